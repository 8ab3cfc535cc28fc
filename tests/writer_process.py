"""A separate OS process appending audit entries, for tests/integration/test_two_writers.py.

    python -m tests.writer_process URL TAG COUNT [--tasks N]

Opens the database, prints ``ready`` and waits for a line on stdin (so that the test can
start two of them at once without sleeping), then appends COUNT entries from N concurrent
tasks through a :class:`GroupCommitter`, and prints the seqs it was given as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from audit.entry import Actor, EntryDraft
from audit.group_commit import GroupCommitter
from verifier.storage.engine import open_database


def draft(tag: str, i: int) -> EntryDraft:
    return EntryDraft(
        actor=Actor(f"system-{tag}", f"user{i % 7}", "caseworker", "370322"),
        action="access_intent",
        outcome="allow",
        case_id=f"{tag}-C{i}",
        subject_refs=(f"{i:064x}",),
        request_id=f"{tag}-{i}",
        details={"writer": tag, "n": i},
    )


async def run(url: str, tag: str, count: int, tasks: int) -> list[int]:
    # Two processes take turns at one SQLite file: on a busy machine a turn can wait longer
    # than the service's fail-fast default, and this test is about the chain, not timeouts.
    db = open_database(url, pool_size=2, lock_timeout_ms=60_000)
    try:
        lock = db.write_lock if db.sqlite else None
        async with GroupCommitter(db.write_sessions, write_lock=lock, max_wait=0.001) as gc:
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            seqs: list[int] = []

            async def worker(k: int) -> None:
                for i in range(k, count, tasks):
                    entries, _ = await gc.submit([draft(tag, i)])
                    seqs.extend(e.seq for e in entries)

            await asyncio.gather(*(worker(k) for k in range(tasks)))
            return sorted(seqs)
    finally:
        await db.dispose()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("tag")
    ap.add_argument("count", type=int)
    ap.add_argument("--tasks", type=int, default=8)
    args = ap.parse_args()
    seqs = asyncio.run(run(args.url, args.tag, args.count, args.tasks))
    print(json.dumps(seqs), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
