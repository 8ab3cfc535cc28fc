"""`hedui serve --workers N`: real processes on one port sharing PostgreSQL.

Two workers answer checks from many connections at once, the audit log they append to
together stays gapless and verifies, and SIGTERM stops them all. A worker killed with
SIGKILL is replaced, and new connections meanwhile are answered promptly by the others;
a parent killed with SIGKILL takes its workers with it. On SQLite more than one worker is
refused before anything starts.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from audit.verify import verify_log
from tests.helpers import run_cli
from tests.integration.test_crash import SYSTEM, config_text, free_port, sandbox, serving
from verifier.api.channel import OWN_CONNECTION
from verifier.api.client import Client, consent_from_json, request_from_json
from verifier.cli.runtime import consent_doc, household_doc
from verifier.cli.serve_workers import WORKERS_ON_SQLITE, queued_connections_reset
from verifier.storage.engine import open_database

pytestmark = pytest.mark.slow
BANNER = re.compile(r"hedui serving on port (\d+) in 2 worker processes")
# How long one check may take, connection included, on a loaded 2-core machine. A
# connection queued on a socket nobody accepts from never gets an answer at all.
PROMPT = 30.0


def workers_of(pid: int) -> set[int]:
    """The live worker processes of the server ``pid`` (Linux /proc; multiprocessing's
    resource tracker, also a child, is left out)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(int(child))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def watch_restarts(
    stream: asyncio.StreamReader, restarted: asyncio.Event, lines: list[bytes] | None = None
) -> None:
    """Read the server's stderr to its end (a full pipe would block it), keeping its lines
    in ``lines``; set ``restarted`` when it says it started a worker in place of one that
    died."""
    while line := await stream.readline():
        if lines is not None:
            lines.append(line)
        if b"started another" in line:
            restarted.set()


async def checks(target: str, docs: list[dict[str, Any]], tag: str) -> list[int]:
    """One check per household, each from its own TCP connection (gRPC would otherwise
    carry every channel of this process on one, to one worker), all at once; the report
    version each answer names."""

    async def one(i: int, doc: dict[str, Any]) -> int:
        async with Client(target, user="w", system=SYSTEM, options=OWN_CONNECTION) as client:
            req = request_from_json(dict(doc, request_id=f"{tag}-{i}"), wait=True)
            v = await client.create(req, timeout=PROMPT)
            return int(v.latest_report_version)

    return list(await asyncio.gather(*(one(i, d) for i, d in enumerate(docs))))


def listeners(port: int) -> int:
    """How many sockets listen on ``port`` (the kernel's table, IPv4 and IPv6)."""
    found = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            found += int(local.rpartition(":")[2], 16) == port and state == "0A"
    return found


async def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` (process and socket tables, which send no event) until it holds;
    fail naming ``what`` after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.02)


async def banner_port(proc: asyncio.subprocess.Process) -> int:
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        while line := (await proc.stdout.readline()).decode():
            if m := BANNER.search(line):
                return int(m.group(1))
    raise AssertionError(f"no banner; exit code {await proc.wait()}")


@dataclass
class Served:
    """A running ``serve --workers 2``: the process, its port, its workers at start, and
    an event set when it says it replaced one."""

    proc: asyncio.subprocess.Process
    port: int
    workers: set[int]
    restarted: asyncio.Event
    stderr: list[bytes]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@asynccontextmanager
async def two_workers(
    database_url: str, tmp_path: Path, docs: list[dict[str, Any]], sandbox_port: int
) -> AsyncIterator[Served]:
    """``hedui serve --workers 2`` serving, with the 授权书 of ``docs`` registered."""
    cfg = tmp_path / "hedui.toml"
    cfg.write_text(config_text(database_url, tmp_path / "keys", free_port(), sandbox_port))
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "verifier.cli.main", "--config", str(cfg)),
        *("serve", "--workers", "2"),
        env={**os.environ, "HEDUI_LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    restarted = asyncio.Event()
    lines: list[bytes] = []
    stderr = asyncio.create_task(watch_restarts(proc.stderr, restarted, lines))
    try:
        port = await banner_port(proc)
        target = f"127.0.0.1:{port}"
        await asyncio.wait_for(serving(target), 60)
        workers = workers_of(proc.pid)
        assert len(workers) == 2
        assert listeners(port) == 2
        async with Client(target, user="w", system=SYSTEM) as client:
            for d in docs:
                await client.register_consent(consent_from_json(consent_doc(d, date.today())))
        yield Served(proc, port, workers, restarted, lines)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await asyncio.wait_for(stderr, 30)
        # Read to the end, so the pipe's transport closes now, not when collected after
        # the event loop is gone.
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.read(), 30)


async def assert_log_verifies(database_url: str) -> None:
    db = open_database(database_url)
    try:
        async with db.read_sessions() as s:
            report = await verify_log(s)
    finally:
        await db.dispose()
    assert report.ok, f"audit log broken at seq {report.first_bad_seq}: {report.problem}"


@pytest.mark.timeout(180)
async def test_two_workers_on_postgresql_share_the_port_and_the_log(
    postgres_url: str, tmp_path: Path
) -> None:
    async with sandbox() as sb:
        docs = [household_doc(sb.population, "370322", i) for i in range(12)]
        async with two_workers(postgres_url, tmp_path, docs, sb.port) as served:
            assert await checks(served.target, docs, "a") == [1] * len(docs)

            served.proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(served.proc.wait(), 60) == 0
            assert not any(alive(p) for p in served.workers)  # the parent joined them
    # The whole of stderr read (the server has ended): told of the kernel's setting.
    warned = any(b"queued_connections_reset_on_worker_death" in x for x in served.stderr)
    assert warned == bool(queued_connections_reset())
    await assert_log_verifies(postgres_url)


@pytest.mark.timeout(240)
async def test_a_worker_killed_outright_is_replaced_and_the_other_answers_meanwhile(
    postgres_url: str, tmp_path: Path
) -> None:
    async with sandbox() as sb:
        docs = [household_doc(sb.population, "370322", i) for i in range(12)]
        async with two_workers(postgres_url, tmp_path, docs, sb.port) as served:
            assert await checks(served.target, docs[:4], "a") == [1] * 4

            gone = min(served.workers)
            os.kill(gone, signal.SIGKILL)
            # The parent says so once it has reaped the worker, whose sockets the kernel
            # closed as it died; its replacement is only starting.
            await asyncio.wait_for(served.restarted.wait(), 60)
            assert not alive(gone)
            # New connections, each its own, now reach only sockets that accept: the other
            # worker's, and the replacement's once it has joined.
            assert await checks(served.target, docs[4:], "b") == [1] * 8

            await until(lambda: len(workers_of(served.proc.pid)) == 2, 60, "a replacement")
            await until(lambda: listeners(served.port) == 2, 60, "the replacement listening")
            await asyncio.wait_for(serving(served.target), 60)
            # Twelve connections: the kernel spreads them over both, so the replacement
            # answers some (all twelve on one of two sockets: 1 run in 2,048).
            assert await checks(served.target, docs, "c") == [1] * len(docs)
            replaced = workers_of(served.proc.pid)
            assert gone not in replaced and len(replaced) == 2

            # The parent killed outright: its workers are told (parent-death signal) and
            # stop, instead of serving the port on their own.
            served.proc.kill()
            await asyncio.wait_for(served.proc.wait(), 60)
            await until(lambda: not any(alive(p) for p in replaced), 60, "workers ending")
            await until(lambda: listeners(served.port) == 0, 10, "the port released")
    await assert_log_verifies(postgres_url)


def test_more_than_one_worker_on_sqlite_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "hedui.toml"
    db = tmp_path / "hedui.db"
    cfg.write_text(config_text(f"sqlite:///{db}", tmp_path / "keys", free_port(), 1))
    code, _out, err = run_cli(capsys, "--config", str(cfg), "serve", "--workers", "2")
    assert code == 2
    assert WORKERS_ON_SQLITE in err.replace("\n", " ")
    assert not db.exists() and not (tmp_path / "keys").exists()  # refused before anything


def test_zero_workers_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "hedui.toml"
    cfg.write_text(config_text(f"sqlite:///{tmp_path}/h.db", tmp_path / "keys", free_port(), 1))
    code, _out, err = run_cli(capsys, "--config", str(cfg), "serve", "--workers", "0")
    assert code == 2
    assert "--workers must be at least 1, not 0" in err
