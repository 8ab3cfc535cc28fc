"""A watcher connected to one server process is told of report versions another process
released for the same verification (two apps on one database stand for two replicas)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakes import AsyncBankFake
from tests.helpers import APPLICANT_ID, CALLER, household_draft, soon
from tests.late_sources_helpers import bank_app, tick_at
from verifier.domain.outcomes import SourceStatus, VerificationState
from verifier.service.events import Event, ReportEvent, SourceEvent, StateEvent


async def test_a_version_released_elsewhere_reaches_the_watcher(
    database_url: str, keys_dir: Path
) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 1_500_000})
    here = await bank_app(database_url, keys_dir, bank)
    elsewhere = await bank_app(database_url, keys_dir, bank)
    # Nothing from `elsewhere` reaches `here`'s event hub: only the database can tell.
    here.service.watch_recheck_seconds = 0.05
    try:
        v = await here.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert v.record.state is VerificationState.AWAITING_SOURCES
        vid = v.record.id
        r1 = await here.service.get_report(CALLER, vid, 1)

        events = here.service.watch(CALLER, vid)
        first: list[Event] = []
        async with asyncio.timeout(10):
            async for e in events:
                first.append(e)
                if isinstance(e, StateEvent):
                    break
        assert first[-1] == StateEvent(first[-1].at, VerificationState.AWAITING_SOURCES)

        bank.ready.set()
        assert await tick_at(elsewhere, 2) == 3  # the other process polls and releases v2
        r2 = await elsewhere.service.get_report(CALLER, vid, 2)

        later: list[Event] = []
        async with asyncio.timeout(10):
            async for e in events:
                later.append(e)
        reports = [e for e in later if isinstance(e, ReportEvent)]
        assert [(r.version, r.envelope_sha256) for r in reports] == [(2, r2.envelope_sha256)]
        assert r2.envelope_sha256 != r1.envelope_sha256
        bank_answers = [e for e in later if isinstance(e, SourceEvent) and e.source == "bank"]
        assert {(e.member_index, e.status) for e in bank_answers} == {
            (0, SourceStatus.FOUND),
            (1, SourceStatus.NOT_FOUND),
            (2, SourceStatus.NOT_FOUND),
        }
        assert isinstance(later[-1], StateEvent)
        assert later[-1].state is VerificationState.DONE
        # The new version is told before the state that follows from it.
        assert later.index(reports[0]) < len(later) - 1
    finally:
        await elsewhere.aclose()
        await here.aclose()
