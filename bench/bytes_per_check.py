"""Bytes per check — what one verification leaves in the database, table by table.

Small sandbox households (2 members by default) are checked over HTTP against a
``hedui sandbox`` process with every source, as a county would run them: a 授权书
registered for each household, the check created and run to its last report version (the
bank answers late and issues version 2). The database is measured before and after; the
growth divided by the number of checks is printed for each table (its rows, indexes and
out-of-line storage together) and for the database as a whole. Target: ≤ 25 KB per check
for a 2-member household, on both databases.

SQLite is measured with its ``dbstat`` table (pages in use) and by the file's growth;
PostgreSQL by ``pg_total_relation_size`` of each table after ``VACUUM FULL``: what the
live rows occupy. Rows a check updates or deletes (its working outcome rows, dropped once
its last report is signed) leave dead space that (auto)vacuum hands to later checks, so it
is not what a check leaves behind.

    .venv/bin/python -m bench.bytes_per_check [--checks 200] [--members 2] [--db both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg
import sqlalchemy as sa
from hedui.v1 import verification_pb2 as pb

from bench.common import SYSTEM, free_port, sandbox_process, scratch_database
from bench.households import household_request, register_consents
from hedui_sdk.sandbox import generate_population
from hedui_sdk.sandbox.server import current_as_of
from verifier.api.client import Client, request_from_json
from verifier.bootstrap import build_app, serve_app
from verifier.config import Config, Principal, sandbox_sources

SEED = 2260
REGION = "370322"
TARGET_BYTES = 25 * 1024


def table_bytes(url: str) -> dict[str, int]:
    """Bytes in use by each table, its indexes and its out-of-line storage."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url)
        with engine.connect() as c:
            owner: dict[str, str] = {
                str(name): str(table)
                for name, table in c.execute(sa.text("SELECT name, tbl_name FROM sqlite_master"))
            }
            out: dict[str, int] = {}
            for name, size in c.execute(
                sa.text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
            ):
                table = owner.get(str(name), str(name))
                out[table] = out.get(table, 0) + int(size)
        engine.dispose()
        return out
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("VACUUM FULL")
        rows = c.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'r' AND n.nspname = 'public'"
        ).fetchall()
    return {name: int(size) for name, size in rows}


def free_bytes(url: str) -> int:
    """SQLite: the file's free pages (a closed check's outcome rows freed them; later checks
    reuse them before the file grows). PostgreSQL: 0 (measured after VACUUM FULL)."""
    if not url.startswith("sqlite"):
        return 0
    engine = sa.create_engine(url)
    with engine.connect() as c:
        pages = int(c.execute(sa.text("PRAGMA freelist_count")).scalar_one())
        size = int(c.execute(sa.text("PRAGMA page_size")).scalar_one())
    engine.dispose()
    return pages * size


def database_bytes(url: str) -> int:
    if url.startswith("sqlite"):
        return os.path.getsize(url.removeprefix("sqlite:///"))
    with psycopg.connect(url) as c:
        row = c.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


async def run_checks(url: str, port: int, checks: int, members: int) -> tuple[int, int]:
    """Checks ``checks`` households to their final report; returns the verification count
    and how many reports (all versions) were issued."""
    pop = generate_population(SEED, households_per_county=max(150, checks * members + 10),
                              as_of=current_as_of())  # fmt: skip
    with tempfile.TemporaryDirectory() as keys:
        cfg = Config(
            database_url=url,
            keys_dir=Path(keys),
            deadline_seconds=60.0,
            principals={SYSTEM: Principal(SYSTEM, ("caseworker",), ("37",))},
            sources=sandbox_sources(port),
            volume_soft=10**9,
            volume_hard=10**9,
        )
        app = await build_app(cfg, migrate=False)
        server = await serve_app(app, "127.0.0.1:0")
        try:
            async with Client(f"127.0.0.1:{server.port}", user="bench", system=SYSTEM) as c:
                # Household i uses members i*members … so no two checks share a person.
                starts = [i * members for i in range(checks)]
                await register_consents(c, pop, REGION, starts, members=members)
                ids: list[str] = []
                sem = asyncio.Semaphore(8)

                async def one(start: int) -> None:
                    async with sem:
                        doc = household_request(pop, REGION, start, members)
                        v = await c.create(request_from_json(doc, wait=True))
                        ids.append(v.verification_id)

                await asyncio.gather(*(one(s) for s in starts))
                reports = await _until_final(c, ids)
        finally:
            await server.stop(0)
            await app.aclose()
    return len(ids), reports


async def _until_final(c: Client, ids: list[str], limit_s: float = 300.0) -> int:
    """Waits for every check's late sources (the bank) to be answered and released."""
    stop_at = time.monotonic() + limit_s
    pending = set(ids)
    versions: dict[str, int] = {}
    while pending and time.monotonic() < stop_at:
        for vid in list(pending):
            v = await c.get(vid)
            versions[vid] = v.latest_report_version
            if v.state == pb.VERIFICATION_STATE_DONE:
                pending.discard(vid)
        if pending:
            await asyncio.sleep(0.5)
    if pending:
        raise SystemExit(f"{len(pending)} checks still had pending sources after {limit_s:.0f} s")
    return sum(versions.values())


def report(kind: str, checks: int, reports: int, before: Mapping[str, int],
           after: Mapping[str, int], file_growth: int, free: int) -> None:  # fmt: skip
    growth = {t: after.get(t, 0) - before.get(t, 0) for t in set(before) | set(after)}
    total = sum(growth.values())
    print(f"  {kind}: {checks} checks, {reports} report versions")
    for table, grown in sorted(growth.items(), key=lambda kv: -kv[1]):
        if grown > 0:
            print(f"    {table:<32} {grown / checks / 1024:9.2f} KB/check  {grown / total:6.1%}")
    print(f"    {'tables in use, total':<32} {total / checks / 1024:9.2f} KB/check")
    print(f"    {'database size growth':<32} {file_growth / checks / 1024:9.2f} KB/check")
    if free:
        print(f"    {'  of which free pages (reused)':<32} {free / checks / 1024:9.2f} KB/check")
    print(
        f"  {kind + ': bytes per check / target':<46} {total / checks / TARGET_BYTES:8.3f}"
        "   (target ≤ 1, 25 KB)"
    )


async def main(checks: int, members: int, dbs: list[str]) -> None:
    port = free_port()
    per_county = max(150, checks * members + 10)
    print(f"Bytes per check: {members}-member sandbox households, every source over HTTP")
    with sandbox_process(port, "--seed", str(SEED), "--households", str(per_county)):
        for kind in dbs:
            with scratch_database(kind) as url:
                before, size0 = table_bytes(url), database_bytes(url)
                free0 = free_bytes(url)
                n, reports = await run_checks(url, port, checks, members)
                after, size1 = table_bytes(url), database_bytes(url)
                free = free_bytes(url) - free0
            report(kind, n, reports, before, after, size1 - size0, free)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checks", type=int, default=200)
    ap.add_argument("--members", type=int, default=2)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    a = ap.parse_args()
    dbs = ["sqlite", "postgresql"] if a.db == "both" else [a.db]
    asyncio.run(main(a.checks, a.members, dbs))
