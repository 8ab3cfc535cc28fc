"""Batch checks already under way give way to a check someone waits for: from the start
of an interactive check's intake, a batch check does not ask its sources, nor release
its report, until the interactive check has issued its first report (within a bound)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import IdType, SourceKind, SourceQuery, SourceResult
from tests.fakes import AllowAllConsents, FakeAdapter, InMemoryStore, synthetic_id
from tests.helpers import household_draft
from verifier.domain.consent import CoverageDecision
from verifier.domain.household import MemberDraft, Relation, RequestDraft
from verifier.domain.ports import Caller
from verifier.service import runner
from verifier.service.fanout import FanOut, bind_sources
from verifier.service.time_limits import CheckTerms
from verifier.service.verifications import VerificationService
from verifier.signing.signer import ReportSigner

KEY = b"k" * 32
WORKER = Caller("case-system-a", "worker-1", "caseworker", ("3703",))
INTERACTIVE = synthetic_id(seq=1, born=date(1970, 1, 1))
BATCH = synthetic_id(seq=2, born=date(1970, 1, 1))


def draft(number: str, request_id: str) -> RequestDraft:
    member = MemberDraft(IdType.RESIDENT_ID, number, "甲", Relation.APPLICANT)
    return replace(household_draft("", "370322", members=(member,)), request_id=request_id)


class GatedAdapter(FakeAdapter):
    """Answers a person only once their gate is open; tells who was asked, in order."""

    def __init__(self, source: SourceKind) -> None:
        super().__init__(source)
        self.gates: dict[str, asyncio.Event] = {}
        self.asked: list[str] = []
        self.asked_for: dict[str, asyncio.Event] = {}

    def gate(self, number: str) -> asyncio.Event:
        return self.gates.setdefault(number, asyncio.Event())

    def was_asked(self, number: str) -> asyncio.Event:
        return self.asked_for.setdefault(number, asyncio.Event())

    async def query(self, q: SourceQuery) -> SourceResult:
        number = q.subject.id_number
        self.asked.append(number)
        self.was_asked(number).set()
        await self.gate(number).wait()
        return await super().query(q)


class HeldConsents(AllowAllConsents):
    """Covers everything, but holds the check of authorization ``held`` until ``go``."""

    def __init__(self, held: str) -> None:
        super().__init__()
        self.held = held
        self.reached = asyncio.Event()
        self.go = asyncio.Event()

    async def decide(self, number: str) -> CoverageDecision:
        if number == self.held:
            self.reached.set()
            await self.go.wait()
        return await super().decide(number)


@dataclass
class Rig:
    store: InMemoryStore
    source: GatedAdapter
    service: VerificationService
    consents: HeldConsents


@pytest.fixture
async def rig(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    # Long enough that only the interactive check's first report ends a pause here.
    monkeypatch.setattr(runner, "BATCH_STAGE_PAUSE_S", 60.0)
    store = InMemoryStore()
    source = GatedAdapter(SourceKind.TAX)
    consents = HeldConsents("held")
    service = VerificationService(
        store=store,
        fanout=FanOut(bind_sources({SourceKind.TAX: source}, {})),
        signer=ReportSigner(Ed25519PrivateKey.generate()),
        pseudonym_key=KEY,
        consents=consents,
        deadline_seconds=30.0,
    )
    yield Rig(store, source, service, consents)
    for gate in source.gates.values():
        gate.set()
    consents.go.set()
    await service.aclose()


async def turns(n: int = 50) -> None:
    """Let every runnable task go as far as it can (turns of the loop, not time)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_batch_check_under_way_asks_its_sources_after_the_interactive_one(
    rig: Rig,
) -> None:
    await rig.service.create(WORKER, draft(INTERACTIVE, "i-1"), wait=False)
    await asyncio.wait_for(rig.source.was_asked(INTERACTIVE).wait(), 5)
    batch = await rig.service.create(
        WORKER, draft(BATCH, "b-1"), wait=False, terms=CheckTerms.batch()
    )
    await turns()
    assert rig.source.asked == [INTERACTIVE]  # recorded, but not asking yet
    rig.source.gate(BATCH).set()
    rig.source.gate(INTERACTIVE).set()  # its first report ends the pause
    await asyncio.wait_for(rig.source.was_asked(BATCH).wait(), 5)
    assert rig.source.asked == [INTERACTIVE, BATCH]
    view = await asyncio.wait_for(
        rig.service.create(WORKER, draft(BATCH, "b-1"), wait=True, terms=CheckTerms.batch()),
        5,
    )
    assert view.record.id == batch.record.id and view.record.latest_version == 1


async def test_a_batch_check_answered_releases_its_report_after_the_interactive_one(
    rig: Rig,
) -> None:
    batch = await rig.service.create(
        WORKER, draft(BATCH, "b-1"), wait=False, terms=CheckTerms.batch()
    )
    await asyncio.wait_for(rig.source.was_asked(BATCH).wait(), 5)
    interactive = await rig.service.create(WORKER, draft(INTERACTIVE, "i-1"), wait=False)
    await asyncio.wait_for(rig.source.was_asked(INTERACTIVE).wait(), 5)
    rig.source.gate(BATCH).set()  # the batch check's answer is in
    await turns()
    assert (await rig.service.view(batch.record.id)).record.latest_version == 0
    rig.source.gate(INTERACTIVE).set()
    done = await asyncio.wait_for(
        rig.service.create(WORKER, draft(BATCH, "b-1"), wait=True, terms=CheckTerms.batch()),
        5,
    )
    assert done.record.latest_version == 1
    first = (await rig.service.view(interactive.record.id)).record
    assert first.latest_version == 1


async def test_batch_work_waits_from_the_start_of_an_interactive_intake(rig: Rig) -> None:
    held = replace(draft(INTERACTIVE, "i-1"), authorization_id="held")
    intake = asyncio.create_task(rig.service.create(WORKER, held, wait=False))
    await asyncio.wait_for(rig.consents.reached.wait(), 5)
    # Its intent is not recorded yet, and no source asked: batch work waits all the same.
    turn = asyncio.create_task(rig.service.batch_turn(at_most=60))
    await turns()
    assert not turn.done()
    rig.consents.go.set()
    rig.source.gate(INTERACTIVE).set()
    await asyncio.wait_for(intake, 5)
    await asyncio.wait_for(turn, 5)


async def test_batch_checks_alone_do_not_wait(rig: Rig) -> None:
    rig.source.gate(BATCH).set()
    view = await asyncio.wait_for(
        rig.service.create(WORKER, draft(BATCH, "b-1"), wait=True, terms=CheckTerms.batch()),
        5,
    )
    assert view.record.latest_version == 1
