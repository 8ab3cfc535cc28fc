"""Shared pieces of the benchmarks: a stack on a free port, figures, PostgreSQL scratch DBs."""

from __future__ import annotations

import contextlib
import gc
import statistics
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import psycopg

from hedui_sdk import Adapter, SourceKind
from verifier.api.server import RunningServer
from verifier.bootstrap import App, build_app, serve_app
from verifier.cli.logs import configure
from verifier.config import Config, Principal, SourceConfig
from verifier.storage.migrate import upgrade

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

configure("WARNING")  # benchmarks print figures, not request logs
SYSTEM = "bench-system"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """A fresh, migrated database URL of ``kind`` (``sqlite`` or ``postgresql``)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            url = f"sqlite:///{d}/bench.db"
            upgrade(url)
            yield url
        return
    name = f"hedui_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def running_stack(
    database_url: str,
    keys_dir: Path,
    *,
    adapters: Mapping[SourceKind, Adapter] | None = None,
    sources: Mapping[SourceKind, SourceConfig] | None = None,
    deadline: float = 30.0,
) -> AsyncIterator[tuple[App, RunningServer]]:
    cfg = Config(
        database_url=database_url,
        keys_dir=keys_dir,
        deadline_seconds=deadline,
        principals={SYSTEM: Principal(SYSTEM, ("caseworker",), ("37", "34"))},
        sources=dict(sources or {}),
        # One synthetic user makes every check here; per-person volume limits do not apply.
        volume_soft=10**9,
        volume_hard=10**9,
    )
    app = await build_app(cfg, adapters=adapters, migrate=False)
    server = await serve_app(app, "127.0.0.1:0")
    gc.freeze()  # as `hedui serve` does after startup
    try:
        yield app, server
    finally:
        await server.stop(0)
        await app.aclose()


def ratio_line(label: str, value: float, target: str) -> str:
    return f"  {label:<44} {value:>8.3f}   (target {target})"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def sandbox_process(port: int, *args: str) -> Iterator[None]:
    """``hedui sandbox`` in its own process, as departments would be: on another core,
    not sharing the verifier's event loop. Yields once it answers /healthz."""
    import subprocess
    import sys
    import time
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "verifier.cli.main", "sandbox", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(10)
