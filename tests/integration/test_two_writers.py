"""Two OS processes, one chain: both append concurrently (PostgreSQL row lock; SQLite in
WAL mode with BEGIN IMMEDIATE and a busy timeout), and the result is one gapless chain
that verifies and holds every entry of both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from audit.verify import verify_chain, verify_log
from verifier.storage.engine import open_database

ROOT = Path(__file__).resolve().parents[2]
COUNT = 150


def start(url: str, tag: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.writer_process", url, tag, str(COUNT)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_two_processes_append_to_one_chain(database_url: str) -> None:
    procs = {tag: start(database_url, tag) for tag in ("a", "b")}
    try:
        for p in procs.values():  # both are connected and waiting: release them together
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        for p in procs.values():
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = {tag: p.communicate(timeout=100) for tag, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    for tag, (_out, err) in outputs.items():
        assert procs[tag].returncode == 0, err
    seqs = {tag: json.loads(out.strip().splitlines()[-1]) for tag, (out, _err) in outputs.items()}
    assert len(seqs["a"]) == len(seqs["b"]) == COUNT
    assert sorted(seqs["a"] + seqs["b"]) == list(range(2 * COUNT))

    db = open_database(database_url)
    try:
        async with db.read_sessions() as s:
            chain = await verify_chain(s)
            log = await verify_log(s)
            rows = (await s.execute(text("SELECT seq, actor_system FROM audit_entries"))).all()
    finally:
        await db.dispose()
    assert chain.ok and log.ok, (chain.problem, log.problem)
    assert chain.entries == log.entries == 2 * COUNT
    by_seq: dict[int, str] = {seq: system for seq, system in rows}
    for tag in ("a", "b"):  # every seq a process was given holds that process's entry
        assert {by_seq[s] for s in seqs[tag]} == {f"system-{tag}"}
