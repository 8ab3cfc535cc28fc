"""VerificationService on in-memory fakes: create, replay, refusals, watch, release and
late versions, with no database (the SQL adapters have their own tests on both databases).

The store is ``tests.fakes.InMemoryStore`` (repositories that subclass the ports), the
sources are fake adapters behind the real fan-out, and reports are signed for real.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import Adapter, SourceKind, SourceQuery, SourceResult
from tests.fakes import AllowAllConsents, AsyncBankFake, FakeAdapter, InMemoryStore, PausedGate
from tests.helpers import APPLICANT_ID, CALLER, CHILD_ID, SPOUSE_ID, household_draft, soon
from verifier.domain.caller import Caller
from verifier.domain.consent import CoverageDecision
from verifier.domain.errors import (
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from verifier.domain.outcomes import Completeness, SourceStatus, VerificationState
from verifier.service.events import Event, ReportEvent, SourceEvent, StateEvent
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources
from verifier.service.poller import Poller
from verifier.service.verifications import VerificationService
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import key_id
from verifier.signing.signer import ReportSigner

PSEUDONYM_KEY = bytes(range(32))


@dataclass
class Rig:
    """A service on an in-memory store, and what the tests look at."""

    service: VerificationService
    store: InMemoryStore
    fanout: FanOut
    signing_key: Ed25519PrivateKey
    pollers: list[Poller] = field(default_factory=list)

    def entries(self, action: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.store.entries() if action is None or e["action"] == action]

    def actions(self) -> list[str]:
        return [e["action"] for e in self.store.entries()]

    def verify(self, envelope: bytes) -> dict[str, Any]:
        pub = self.signing_key.public_key()
        document: dict[str, Any] = verify_envelope(envelope, {key_id(pub): pub}).document
        return document

    async def tick(self, hours: float) -> int:
        """One poller round as if ``hours`` had passed."""
        poller = Poller(self.service, self.store, self.fanout, clock=later(hours))
        self.pollers.append(poller)
        return await poller.tick()


def later(hours: float) -> Callable[[], datetime]:
    """A clock ahead of real time, so scheduled polls and expired leases are due now."""
    return lambda: datetime.now(UTC) + timedelta(hours=hours)


def make_rig(
    adapters: Mapping[SourceKind, Adapter],
    *,
    store: InMemoryStore | None = None,
    policies: Mapping[SourceKind, SourcePolicy] | None = None,
    **kw: Any,
) -> Rig:
    store = store or InMemoryStore()
    fanout = FanOut(bind_sources(dict(adapters), dict(policies or {})))
    key = Ed25519PrivateKey.generate()
    kw.setdefault("consents", AllowAllConsents())
    service = VerificationService(
        store=store,
        fanout=fanout,
        signer=ReportSigner(key),
        pseudonym_key=PSEUDONYM_KEY,
        deadline_seconds=5.0,
        **kw,
    )
    return Rig(service, store, fanout, key)


@pytest.fixture
async def rigs() -> AsyncIterator[list[Rig]]:
    """Rigs made in a test, closed after it (runs cancelled, pollers' resumes stopped)."""
    made: list[Rig] = []
    yield made
    for rig in made:
        for poller in rig.pollers:
            await poller.aclose()
        await rig.service.aclose()


def tax(**income: int) -> FakeAdapter:
    return FakeAdapter(SourceKind.TAX, income_fen=income or {APPLICANT_ID: 300_000})


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


# ---------------------------------------------------------------------- create
async def test_create_asks_every_member_and_releases_a_signed_report(rigs: list[Rig]) -> None:
    source = tax()
    rigs.append(rig := make_rig({SourceKind.TAX: source}))
    view = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())

    assert view.record.state is VerificationState.DONE
    assert view.record.latest_version == 1
    assert view.record.completeness is Completeness.COMPLETE
    assert [(p.member_index, p.source, p.status) for p in view.progress] == [
        (0, "tax", "FOUND"),
        (1, "tax", "NOT_FOUND"),
        (2, "tax", "NOT_FOUND"),
    ]
    assert source.calls == 3
    report = await rig.service.get_report(CALLER, view.record.id, 0)
    doc = rig.verify(report.envelope)
    assert doc["version"] == 1 and doc["verification_id"] == view.record.id
    assert report.release_seq == rig.entries("released")[0]["seq"]
    assert rig.actions() == ["authorize", "access_intent", "released", "report_read"]
    allow, intent, released, read = rig.store.entries()
    assert allow["outcome"] == "allow" and allow["verification_id"] == view.record.id
    assert intent["details"]["sources"] == ["tax"]
    assert released["details"]["envelope_sha256"] == report.envelope_sha256
    assert len(released["subject_refs"]) == 3
    assert read["details"] == {"version": 1, "report_id": doc["report_id"]}
    # Keyed references only: no ID number reaches the audit log.
    logged = json.dumps(rig.store.entries(), ensure_ascii=False)
    assert not any(n in logged for n in (APPLICANT_ID, SPOUSE_ID, CHILD_ID))


class RecordsTheLogWhenAsked(FakeAdapter):
    """A source that notes which audit entries were committed when it was first asked."""

    def __init__(self, store: InMemoryStore) -> None:
        super().__init__(SourceKind.TAX)
        self.store = store
        self.committed_before: list[str] | None = None

    async def query(self, q: SourceQuery) -> SourceResult:
        if self.committed_before is None:
            self.committed_before = [e["action"] for e in self.store.entries()]
        return await super().query(q)


async def test_the_intent_is_committed_before_any_source_is_asked(rigs: list[Rig]) -> None:
    store = InMemoryStore()
    source = RecordsTheLogWhenAsked(store)
    rigs.append(rig := make_rig({SourceKind.TAX: source}, store=store))
    await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    assert source.committed_before == ["authorize", "access_intent"]


async def test_create_without_waiting_answers_at_once_and_the_run_goes_on(
    rigs: list[Rig],
) -> None:
    source = FakeAdapter(SourceKind.TAX, hang=True)
    rigs.append(rig := make_rig({SourceKind.TAX: source}))
    view = await rig.service.create(CALLER, household_draft(), wait=False)
    assert view.record.state is VerificationState.RUNNING and view.record.latest_version == 0
    await asyncio.wait_for(source.started.wait(), 5)
    assert rig.service.running() == 1
    with pytest.raises(FailedPrecondition):
        await rig.service.get_report(CALLER, view.record.id, 0)


async def test_the_audit_log_unwritable_means_no_source_is_asked(rigs: list[Rig]) -> None:
    source = tax()
    rigs.append(rig := make_rig({SourceKind.TAX: source}))
    rig.store.audit_unavailable = True
    with pytest.raises(Unavailable):
        await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    assert source.calls == 0
    assert rig.store.tables.verifications == {} and rig.store.entries() == []


# ---------------------------------------------------------------------- replay
async def test_a_repeated_request_is_answered_as_a_replay(rigs: list[Rig]) -> None:
    source = tax()
    rigs.append(rig := make_rig({SourceKind.TAX: source}))
    first = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    again = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    assert again.record.id == first.record.id and again.record.latest_version == 1
    assert source.calls == 3
    assert rig.actions().count("access_intent") == 1


async def test_a_request_id_reused_for_another_request_is_refused(rigs: list[Rig]) -> None:
    rigs.append(rig := make_rig({SourceKind.TAX: tax()}))
    await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    with pytest.raises(FailedPrecondition):
        await rig.service.create(
            CALLER, household_draft(case_id="CASE-2"), wait=True, wait_until=soon()
        )
    assert len(rig.store.tables.verifications) == 1


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        (Caller(CALLER.system, "worker-1", "reviewer", ("3703",)), "ROLE_NOT_ALLOWED"),
        (Caller(CALLER.system, "worker-1", "caseworker", ("3415",)), "OUT_OF_REGION"),
    ],
)
async def test_a_caller_who_may_not_check_is_refused_and_the_refusal_audited(
    rigs: list[Rig], caller: Caller, reason: str
) -> None:
    source = tax()
    rigs.append(rig := make_rig({SourceKind.TAX: source}))
    with pytest.raises(PermissionDenied) as refused:
        await rig.service.create(caller, household_draft(), wait=True, wait_until=soon())
    assert refused.value.reason == reason
    [entry] = rig.store.entries()
    assert (entry["action"], entry["outcome"], entry["reason"]) == ("authorize", "deny", reason)
    assert entry["details"]["authorization_id"] == "SQ-2026-001"
    assert source.calls == 0 and rig.store.tables.verifications == {}


class RefusingGate(AllowAllConsents):
    async def decide(self, number: str) -> CoverageDecision:
        return CoverageDecision(False, "CONSENT_REVOKED", "the authorization was revoked")


async def test_an_authorization_that_does_not_cover_the_check_refuses_it(
    rigs: list[Rig],
) -> None:
    source = tax()
    gate = RefusingGate()
    rigs.append(rig := make_rig({SourceKind.TAX: source}, consents=gate))
    with pytest.raises(PermissionDenied) as refused:
        await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    assert refused.value.reason == "CONSENT_REVOKED"
    assert gate.checked == ["SQ-2026-001"]
    [entry] = rig.store.entries()
    assert (entry["action"], entry["outcome"], entry["reason"]) == (
        "authorize",
        "deny",
        "CONSENT_REVOKED",
    )
    assert source.calls == 0 and rig.store.tables.verifications == {}


async def test_the_volume_limits_flag_then_refuse(rigs: list[Rig]) -> None:
    rigs.append(rig := make_rig({SourceKind.TAX: tax()}, volume_soft=2, volume_hard=3))
    for n in range(3):
        await rig.service.create(
            CALLER, household_draft(request_id=f"req-{n}"), wait=True, wait_until=soon()
        )
    with pytest.raises(ResourceExhausted) as refused:
        await rig.service.create(
            CALLER, household_draft(request_id="req-3"), wait=True, wait_until=soon()
        )
    assert refused.value.reason == "VOLUME_LIMIT"
    anomalies = rig.entries("anomaly")
    assert [a["details"]["checks_in_window"] for a in anomalies] == [2, 4]
    last = rig.entries("authorize")[-1]
    assert (last["outcome"], last["reason"]) == ("deny", "VOLUME_LIMIT")
    assert len(rig.store.tables.verifications) == 3


async def test_a_report_of_another_system_is_not_found_and_the_refusal_audited(
    rigs: list[Rig],
) -> None:
    rigs.append(rig := make_rig({SourceKind.TAX: tax()}))
    view = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    other = Caller("case-system-b", "worker-9", "reviewer", ("3703",))
    with pytest.raises(NotFound):
        await rig.service.get_report(other, view.record.id, 1)
    with pytest.raises(NotFound):
        await rig.service.get(other, view.record.id)
    denied = rig.entries("report_read")
    assert [(e["outcome"], e["reason"]) for e in denied] == [("deny", "NOT_OWNER")]


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
