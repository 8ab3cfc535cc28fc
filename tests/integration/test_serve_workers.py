"""`hedui serve --workers N`: real processes on one port sharing PostgreSQL.

Two workers answer checks from many connections at once, the audit log they append to
together stays gapless and verifies, and SIGTERM stops them all. On SQLite more than one
worker is refused before anything starts.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from audit.verify import verify_log
from tests.helpers import run_cli
from tests.integration.test_crash import SYSTEM, config_text, free_port, sandbox, serving
from verifier.api.client import Client, consent_from_json, request_from_json
from verifier.cli.runtime import consent_doc, household_doc
from verifier.cli.serve_workers import WORKERS_ON_SQLITE
from verifier.storage.engine import open_database

pytestmark = pytest.mark.slow
BANNER = re.compile(r"hedui serving on port (\d+) in 2 worker processes")


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


async def watch_restarts(stream: asyncio.StreamReader, restarted: asyncio.Event) -> None:
    """Read the server's stderr to its end (a full pipe would block it); set ``restarted``
    when it says it started a worker in place of one that died."""
    while line := await stream.readline():
        if b"started another" in line:
            restarted.set()


async def checks(target: str, docs: list[dict[str, Any]], tag: str) -> list[int]:
    """One check per household, each from its own connection, all at once; the report
    version each answer names."""

    async def one(i: int, doc: dict[str, Any]) -> int:
        async with Client(target, user="w", system=SYSTEM) as client:
            req = request_from_json(dict(doc, request_id=f"{tag}-{i}"), wait=True)
            v = await client.create(req, timeout=30)
            return int(v.latest_report_version)

    return list(await asyncio.gather(*(one(i, d) for i, d in enumerate(docs))))


async def banner_port(proc: asyncio.subprocess.Process) -> int:
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        while line := (await proc.stdout.readline()).decode():
            if m := BANNER.search(line):
                return int(m.group(1))
    raise AssertionError(f"no banner; exit code {await proc.wait()}")


@pytest.mark.timeout(180)
async def test_two_workers_on_postgresql_share_the_port_and_the_log(
    postgres_url: str, tmp_path: Path
) -> None:
    async with sandbox() as sb:
        cfg = tmp_path / "hedui.toml"
        cfg.write_text(config_text(postgres_url, tmp_path / "keys", free_port(), sb.port))
        docs = [household_doc(sb.population, "370322", i) for i in range(12)]
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "verifier.cli.main", "--config", str(cfg)),
            *("serve", "--workers", "2"),
            env={**os.environ, "HEDUI_LOG_LEVEL": "WARNING"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        restarted = asyncio.Event()
        stderr = asyncio.create_task(watch_restarts(proc.stderr, restarted))
        try:
            target = f"127.0.0.1:{await banner_port(proc)}"
            await asyncio.wait_for(serving(target), 60)
            workers = workers_of(proc.pid)
            assert len(workers) == 2
            async with Client(target, user="w", system=SYSTEM) as client:
                for d in docs:
                    await client.register_consent(consent_from_json(consent_doc(d, date.today())))
            assert await checks(target, docs, "a") == [1] * len(docs)

            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 60) == 0
            assert not any(alive(p) for p in workers)  # the parent joined them
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await asyncio.wait_for(stderr, 30)
            # Read to the end, so the pipe's transport closes now, not when collected
            # after the event loop is gone.
            assert proc.stdout is not None
            await asyncio.wait_for(proc.stdout.read(), 30)

    db = open_database(postgres_url)
    try:
        async with db.read_sessions() as s:
            report = await verify_log(s)
    finally:
        await db.dispose()
    assert report.ok, f"audit log broken at seq {report.first_bad_seq}: {report.problem}"


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
