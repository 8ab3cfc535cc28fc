"""Done when: two server processes on one PostgreSQL run the re-check scheduler; one of
them is killed with SIGKILL mid-cycle (either one); every household of the roster is
re-checked exactly once for its cycle (one verification per entry and cycle), none is
missed, every entry records its check and its next due day, and the audit log verifies.

Real processes (`hedui serve`), the sandbox departments over HTTP with some latency so
the cycle takes long enough to be interrupted, and the real gRPC client for the import.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hedui.v1 import common_pb2 as common
from hedui.v1 import roster_pb2 as pb
from sqlalchemy import select

from audit.verify import verify_log
from hedui_sdk import SourceKind
from hedui_sdk.sandbox import SourceFaults, generate_population, start_sandbox
from hedui_sdk.sandbox.server import current_as_of
from tests.integration.test_crash import SYSTEM, config_text, free_port, serving
from verifier.api.client import Client, consent_from_json, request_from_json
from verifier.api.roster_translate import date_pb
from verifier.cli.runtime import consent_doc, household_doc
from verifier.domain.roster import JobState, china_date, recheck_request_id
from verifier.storage.engine import open_database
from verifier.storage.models import VerificationRow
from verifier.storage.models_roster import RecheckJobRow, RosterEntryRow

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

HOUSEHOLDS = 24
ROSTER = """
[roster]
interval = 0.2
lease_seconds = 3
batch = 3
"""


def roster_entry(doc: dict[str, Any], i: int) -> pb.RosterEntry:
    """A sandbox household as a roster entry, last checked long enough ago to be due."""
    request = request_from_json(doc)
    entry = pb.RosterEntry(
        household_ref=f"HH-{i:03d}",
        region_code=request.household.region_code,
        programs=[common.PURPOSE_DIBAO],
        roster_class=pb.ROSTER_CLASS_DIBAO_A,
        authorization_number=doc["authorization_id"],
        case_ref=doc["case_id"],
        hukou_nature=request.hukou_nature,
        members=request.household.members,
    )
    entry.last_check_date.CopyFrom(date_pb(date(2024, 6, 3)))
    return entry


async def jobs_done(url: str) -> tuple[int, int]:
    """(jobs DONE, entries): what the replicas have finished so far."""
    db = open_database(url)
    try:
        async with db.read_sessions() as s:
            states = (await s.execute(select(RecheckJobRow.state))).scalars().all()
            entries = len((await s.execute(select(RosterEntryRow.id))).scalars().all())
    finally:
        await db.dispose()
    return sum(1 for x in states if x == JobState.DONE.value), entries


async def asking_sources(url: str, pid: int) -> bool:
    """Whether the server process ``pid`` is asking the sources of a check: its intent
    is recorded, its report not yet released (run owners are ``host:pid:nonce``)."""
    db = open_database(url)
    try:
        async with db.read_sessions() as s:
            running = (
                await s.execute(
                    select(VerificationRow.id).where(
                        VerificationRow.state == "RUNNING",
                        VerificationRow.run_owner.contains(f":{pid}:"),
                    )
                )
            ).first()
    finally:
        await db.dispose()
    return running is not None


async def wait_for(url: str, predicate: Any, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if predicate(*await jobs_done(url)):
                return
            await asyncio.sleep(0.2)  # polling other processes' database writes


@pytest.mark.timeout(420)
@pytest.mark.parametrize("killed", [0, 1])
async def test_no_household_is_rechecked_twice_or_missed_across_a_kill(
    postgres_url: str, tmp_path: Path, killed: int
) -> None:
    pop = generate_population(11, households_per_county=40, as_of=current_as_of())
    faults: dict[SourceKind | str, SourceFaults] = {
        k: SourceFaults(latency_ms=250) for k in SourceKind
    }
    sb = await start_sandbox(population=pop, faults=faults)
    env = {**os.environ, "HEDUI_LOG_LEVEL": "WARNING"}
    procs: list[asyncio.subprocess.Process] = []
    try:
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            cfg = tmp_path / f"hedui-{i}.toml"
            cfg.write_text(
                config_text(postgres_url, tmp_path / "keys", port, sb.port, server_extra="")
                + ROSTER
            )
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "verifier.cli.main", "--config", str(cfg), "serve",
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
            # The first creates the schema; the second starts once it serves.
            await serving(f"127.0.0.1:{port}")
        regions = ("370322", "370305", "370281", "371522")
        docs = [household_doc(pop, r, i) for r in regions for i in range(HOUSEHOLDS // 4)]
        today = china_date(datetime.now(UTC))
        async with Client(f"127.0.0.1:{ports[0]}", user="w", system=SYSTEM) as c:
            for doc in docs:
                await c.register_consent(consent_from_json(consent_doc(doc, today)))
            resp = await c.import_roster(
                pb.ImportRosterRequest(entries=[roster_entry(d, i) for i, d in enumerate(docs)])
            )
        assert resp.created == HOUSEHOLDS
        # Mid-cycle: some households checked, most not yet, and the victim asking the
        # sources of a check it started (the survivor must resume that check, not start
        # another; the victim's job leases expire and are taken over too).
        await wait_for(postgres_url, lambda done, _n: done >= 2, 120)
        victim = procs[killed]
        async with asyncio.timeout(60):
            while True:
                if await asking_sources(postgres_url, victim.pid):
                    break
                await asyncio.sleep(0.05)  # polling other processes' database writes
        victim.send_signal(signal.SIGKILL)
        await asyncio.wait_for(victim.wait(), 10)
        done_at_kill, _ = await jobs_done(postgres_url)
        assert done_at_kill < HOUSEHOLDS, "the cycle finished before the kill"
        # The survivor finishes the cycle: leases of the dead replica expire, its started
        # checks are resumed by the survivor's poller and completed by its scheduler.
        await wait_for(postgres_url, lambda done, n: done == n == HOUSEHOLDS, 240)
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
        await sb.stop()

    db = open_database(postgres_url)
    try:
        async with db.read_sessions() as s:
            entries = (await s.execute(select(RosterEntryRow))).scalars().all()
            jobs = (await s.execute(select(RecheckJobRow))).scalars().all()
            checks = (
                await s.execute(
                    select(
                        VerificationRow.request_id, VerificationRow.id, VerificationRow.state
                    ).where(VerificationRow.caller_system == SYSTEM)
                )
            ).all()
            log = await verify_log(s)
    finally:
        await db.dispose()

    assert log.ok, f"audit log broken at seq {log.first_bad_seq}: {log.problem}"
    # One job per entry and cycle, every one done.
    assert len(jobs) == HOUSEHOLDS and {j.state for j in jobs} == {JobState.DONE.value}
    by_entry = {j.entry_id: j for j in jobs}
    assert set(by_entry) == {e.id for e in entries}
    # Exactly one verification per entry and cycle, none missed, none extra.
    per_request = Counter(request_id for request_id, _, _ in checks)
    expected = {recheck_request_id(j.entry_id, j.cycle_due) for j in jobs}
    assert set(per_request) == expected
    assert all(n == 1 for n in per_request.values())
    ids = {request_id: vid for request_id, vid, _ in checks}
    for e in entries:
        job = by_entry[e.id]
        assert job.verification_id == ids[recheck_request_id(e.id, job.cycle_due)]
        assert e.checked_verification_id == job.verification_id
        assert e.next_due_date is not None and e.next_due_date > job.cycle_due
    assert {state for _, _, state in checks} <= {"DONE", "AWAITING_SOURCES"}
