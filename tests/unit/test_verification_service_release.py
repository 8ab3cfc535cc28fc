"""VerificationService on in-memory fakes: watch, release and late versions, with no
database (the SQL adapters have their own tests on both databases).

The store is ``tests.fakes.InMemoryStore`` (repositories that subclass the ports), the
sources are fake adapters behind the real fan-out, and reports are signed for real.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import pytest

from hedui_sdk import Adapter, SourceKind
from tests import verification_service_rig
from tests.fakes import AsyncBankFake, FakeAdapter, InMemoryStore, PausedGate
from tests.fakes.watched import WatchedStore
from tests.helpers import APPLICANT_ID, CALLER, household_draft, soon
from tests.verification_service_rig import Rig, later, make_rig, tax
from verifier.domain.outcomes import Completeness, SourceStatus, VerificationState
from verifier.service.assessment import assess_report_sections
from verifier.service.events import Event, ReportEvent, SourceEvent, StateEvent
from verifier.service.fanout import SourcePolicy

# The shared fixture, bound here so that pytest finds it for this module's tests.
rigs = verification_service_rig.rigs


def bank_sources(bank: AsyncBankFake) -> dict[SourceKind, Adapter]:
    return {SourceKind.TAX: tax(), SourceKind.BANK: bank}


def payload(envelope: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    return doc


async def until_state(events: AsyncIterator[Event], state: VerificationState) -> list[Event]:
    seen: list[Event] = []
    async with asyncio.timeout(10):
        async for e in events:
            seen.append(e)
            if isinstance(e, StateEvent) and e.state is state:
                return seen
    return seen


# ---------------------------------------------------------------------- watch
async def test_watch_tells_each_status_once_then_the_report_and_the_state(
    rigs: list[Rig],
) -> None:
    rigs.append(rig := make_rig({SourceKind.TAX: tax()}))
    view = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    seen = await until_state(rig.service.watch(CALLER, view.record.id), VerificationState.DONE)
    sources = [e for e in seen if isinstance(e, SourceEvent)]
    assert sorted((e.member_index, e.status) for e in sources) == [
        (0, SourceStatus.FOUND),
        (1, SourceStatus.NOT_FOUND),
        (2, SourceStatus.NOT_FOUND),
    ]
    assert [type(e) for e in seen[len(sources) :]] == [ReportEvent, StateEvent]
    assert isinstance(seen[-2], ReportEvent) and seen[-2].version == 1


async def test_a_watcher_follows_a_late_source_to_version_two(rigs: list[Rig]) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 1_500_000})
    rigs.append(rig := make_rig(bank_sources(bank)))
    view = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    assert view.record.state is VerificationState.AWAITING_SOURCES
    watch = rig.service.watch(CALLER, view.record.id)
    first = await until_state(watch, VerificationState.AWAITING_SOURCES)
    assert [e.version for e in first if isinstance(e, ReportEvent)] == [1]

    bank.ready.set()
    assert await rig.tick(hours=2) == 3
    rest = await until_state(watch, VerificationState.DONE)
    assert [e.version for e in rest if isinstance(e, ReportEvent)] == [2]
    late = {(e.member_index, e.source, e.status) for e in rest if isinstance(e, SourceEvent)}
    assert late == {
        (0, "bank", SourceStatus.FOUND),
        (1, "bank", SourceStatus.NOT_FOUND),
        (2, "bank", SourceStatus.NOT_FOUND),
    }


async def test_a_watcher_in_another_process_is_told_of_versions_released_elsewhere(
    rigs: list[Rig],
) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 700})
    store = InMemoryStore()
    rigs.append(here := make_rig(bank_sources(bank), store=store))
    rigs.append(there := make_rig(bank_sources(bank), store=store))
    there.service.watch_recheck_seconds = 60.0  # only the release notice can wake it in time
    stop = asyncio.Event()
    listening = asyncio.create_task(
        store.listen_releases(there.service.hub.changed_elsewhere, stop)
    )
    try:
        view = await here.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        watch = there.service.watch(CALLER, view.record.id)
        await until_state(watch, VerificationState.AWAITING_SOURCES)
        bank.ready.set()
        assert await here.tick(hours=2) == 3
        rest = await until_state(watch, VerificationState.DONE)
        assert [e.version for e in rest if isinstance(e, ReportEvent)] == [2]
    finally:
        stop.set()
        await listening


# ---------------------------------------------------------------------- late versions
async def test_a_late_answer_makes_version_two_naming_version_one(rigs: list[Rig]) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 1_500_000})
    rigs.append(rig := make_rig(bank_sources(bank), policies={SourceKind.BANK: SourcePolicy()}))
    view = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    vid = view.record.id
    r1 = await rig.service.get_report(CALLER, vid, 1)
    bank1 = [s for s in payload(r1.envelope)["sources"] if s["source"] == "bank"]
    assert {s["status"] for s in bank1} == {"PENDING"} and all(s["due_date"] for s in bank1)
    assert r1.completeness is Completeness.PARTIAL

    assert await rig.tick(hours=1) == 3  # still pending: polled again later, no new version
    assert (await rig.service.view(vid)).record.latest_version == 1
    bank.ready.set()
    assert await rig.tick(hours=2) == 3

    done = await rig.service.view(vid)
    assert done.record.state is VerificationState.DONE and done.record.latest_version == 2
    r2 = await rig.service.get_report(CALLER, vid, 2)
    d2 = rig.verify(r2.envelope)
    assert d2["version"] == 2 and d2["previous_sha256"] == r1.envelope_sha256
    assert r2.completeness is Completeness.COMPLETE
    released = rig.entries("released")
    assert [e["details"]["version"] for e in released] == [1, 2]
    assert released[1]["actor"]["system"] == "hedui"
    assert released[1]["details"]["late_sources"] == ["0:bank", "1:bank", "2:bank"]
    assert rig.store.tables.announced == [vid, vid]


async def test_an_answer_from_a_lease_no_longer_held_releases_nothing(rigs: list[Rig]) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 700})
    rigs.append(rig := make_rig(bank_sources(bank)))
    view = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    now = later(1)()
    async with rig.store.unit_of_work(write=True) as uow:
        leases = await uow.polls.lease("process-A", now, now + timedelta(seconds=60), 10)
        await uow.commit()
    assert len(leases) == 3
    bank.ready.set()
    assert await rig.tick(hours=1) == 0  # A's leases still hold
    assert await rig.tick(hours=2) == 3  # expired: this process answers
    outcome, _ = await rig.fanout.poll(0, SourceKind.BANK, leases[0].ticket)
    stale = await rig.service.release_late(view.record.id, [outcome], poll_owner="process-A")
    assert stale is None
    assert (await rig.service.view(view.record.id)).record.latest_version == 2


async def test_a_run_whose_process_died_is_resumed_by_another(rigs: list[Rig]) -> None:
    store = InMemoryStore()
    rigs.append(
        dead := make_rig({SourceKind.TAX: FakeAdapter(SourceKind.TAX, hang=True)}, store=store)
    )
    view = await dead.service.create(CALLER, household_draft(), wait=False)
    await dead.service.aclose()  # the process stops mid-run: its lease will expire
    assert (await dead.service.view(view.record.id)).record.state is VerificationState.RUNNING

    rigs.append(alive := make_rig({SourceKind.TAX: tax()}, store=store))
    assert await alive.tick(hours=1) == 1
    await alive.pollers[-1].drain()
    resumed = await alive.service.view(view.record.id)
    assert resumed.record.state is VerificationState.DONE and resumed.record.latest_version == 1
    intents = alive.entries("access_intent")
    assert [(e["reason"], e["actor"]["system"]) for e in intents] == [
        ("", CALLER.system),
        ("RESUMED", "hedui"),
    ]


async def test_a_recorded_intent_runs_though_its_caller_went_away(rigs: list[Rig]) -> None:
    source = tax()
    gate = PausedGate()
    rigs.append(rig := make_rig({SourceKind.TAX: source}, consents=gate))
    draft = household_draft()
    create = asyncio.create_task(rig.service.create(CALLER, draft, wait=True, wait_until=soon()))
    await asyncio.wait_for(gate.entered.wait(), 5)
    create.cancel()
    with pytest.raises(asyncio.CancelledError):
        await create
    gate.go_on.set()
    await asyncio.wait_for(source.started.wait(), 5)
    [row] = rig.store.tables.verifications.values()
    await until_state(rig.service.watch(CALLER, row.record.id), VerificationState.DONE)
    assert (await rig.service.view(row.record.id)).record.latest_version == 1


# ---------------------------------------------------------------------- the write
async def test_a_first_version_is_assessed_and_signed_before_its_write_a_late_one_in_it(
    rigs: list[Rig],
) -> None:
    """Version 1 depends on nothing stored, so its assessment and signature are made
    before the write transaction; a late version merges stored outcomes, read in it."""
    store = WatchedStore()
    in_write: list[bool] = []

    def assessor(*args: Any) -> Mapping[str, Any]:
        in_write.append(store.writing)
        return assess_report_sections(*args)

    bank = AsyncBankFake({APPLICANT_ID: 1_500_000})
    rigs.append(rig := make_rig(bank_sources(bank), store=store, assessor=assessor))
    view = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    assert view.record.latest_version == 1
    assert in_write == [False]
    bank.ready.set()
    assert await rig.tick(hours=2) == 3
    report = await rig.service.get_report(CALLER, view.record.id, 2)
    assert payload(report.envelope)["version"] == 2
    assert in_write == [False, True]
