"""The re-check scheduler on in-memory fakes, with the real verification service, the real
授权书 registry and signed reports: a due household is checked once per cycle through the
intake (replays after a crash are the same check), its last check and next due day
follow the released report, two replicas share the jobs, and a re-check whose 授权书
lapsed is not run but raises a re-authorization alert."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import SourceKind
from tests.consents import consent_draft
from tests.fakes import FakeAdapter, InMemoryStore
from tests.helpers import household_draft
from tests.roster import entry_draft, member_ids
from verifier.bootstrap import recheck_starter
from verifier.domain.caller import Caller
from verifier.domain.errors import ResourceExhausted
from verifier.domain.household import Purpose, Relation, RequestDraft, default_window
from verifier.domain.ports.terms import CheckOrigin
from verifier.domain.roster import (
    CheckOutcome,
    JobState,
    RecheckState,
    RosterClass,
    china_date,
    due_after,
)
from verifier.service.consents import ConsentService, RegistryConsentGate
from verifier.service.fanout import FanOut, bind_sources
from verifier.service.lanes import Lane
from verifier.service.monitoring.raising import AlertRaiser
from verifier.service.roster.entries import RosterService
from verifier.service.roster.scheduler import RecheckScheduler, StartedCheck
from verifier.service.verifications import VerificationService
from verifier.signing.signer import ReportSigner

KEY = bytes(range(32))
WORKER = Caller("county-system", "worker-1", "caseworker", ("3418",))
TODAY = china_date(datetime.now(UTC))
LAST_YEAR = TODAY - timedelta(days=400)  # due about a month ago


@dataclass
class Rig:
    store: InMemoryStore
    service: VerificationService
    roster: RosterService
    consents: ConsentService
    starts: list[RequestDraft] = field(default_factory=list)
    schedulers: list[RecheckScheduler] = field(default_factory=list)

    def start(self, fail_after: bool = False) -> Any:
        """The composition root's starter, counting its calls; ``fail_after`` dies after
        the check is recorded, before the scheduler hears of it."""
        real = recheck_starter(self.service)

        async def start(
            caller: Caller, draft: RequestDraft, wait_until: float | None, urgent: bool
        ) -> StartedCheck:
            self.starts.append(draft)
            started = await real(caller, draft, wait_until, urgent)
            if fail_after:
                raise RuntimeError("the process died before it noted the start")
            return started

        return start

    def scheduler(
        self, *, fail_after: bool = False, hours: float = 0.0, batch: int = 16
    ) -> RecheckScheduler:
        s = RecheckScheduler(
            self.store,
            self.start(fail_after),
            KEY,
            alerts=AlertRaiser(),
            batch=batch,
            lease_seconds=60,
            wait_seconds=5,
            clock=lambda: datetime.now(UTC) + timedelta(hours=hours),
        )
        self.schedulers.append(s)
        return s

    async def register(self, ref: str, number: str | None = None, **kw: Any) -> None:
        ids = member_ids(ref)
        await self.consents.register(
            WORKER,
            consent_draft(
                number or f"SQ-{ref}",
                [(ids[0], Relation.APPLICANT), (ids[1], Relation.SPOUSE)],
                region="341824",
                **kw,
            ),
        )

    def entries(self, action: str) -> list[dict[str, Any]]:
        return [e for e in self.store.entries() if e["action"] == action]

    def verifications(self) -> list[Any]:
        return [row.record for row in self.store.tables.verifications.values()]

    def jobs(self) -> list[Any]:
        return [j.job for j in self.store.tables.roster.jobs.values()]


def make_rig(volume_soft: int = 100_000, volume_hard: int = 100_000) -> Rig:
    store = InMemoryStore()
    service = VerificationService(
        store=store,
        fanout=FanOut(bind_sources({SourceKind.TAX: FakeAdapter(SourceKind.TAX)}, {})),
        signer=ReportSigner(Ed25519PrivateKey.generate()),
        pseudonym_key=KEY,
        deadline_seconds=5.0,
        consents=RegistryConsentGate(),
        volume_hard=volume_hard,
        volume_soft=volume_soft,
    )
    return Rig(store, service, RosterService(store, KEY), ConsentService(store, KEY))


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = make_rig()
    yield r
    await r.service.aclose()


async def test_a_due_household_is_rechecked_once_and_its_cycle_moves_on(rig: Rig) -> None:
    await rig.register("HH-1")
    await rig.roster.import_entries(WORKER, [entry_draft("HH-1", last_check=LAST_YEAR)])
    before = await rig.roster.get(WORKER, "HH-1")
    cycle = before.record.schedule.next_due
    assert cycle is not None and cycle <= TODAY and before.state is RecheckState.DUE

    scheduler = rig.scheduler()
    assert await scheduler.tick() > 0
    assert await scheduler.tick() == 0  # nothing left: the cycle is done

    [v] = rig.verifications()
    # Recorded for the system that imported the entry, so its case system reads it; by
    # the scheduler's user.
    assert v.caller_system == "county-system" and v.latest_version == 1
    assert v.caller_user == "recheck-scheduler"
    [draft] = rig.starts
    assert draft.request_id.startswith("recheck-") and draft.case_id == "CASE-HH-1"
    assert draft.authorization_id == "SQ-HH-1"
    assert draft.purposes == (Purpose.DIBAO, Purpose.DIBAO_BIANYUAN)
    assert draft.current_programs == (Purpose.DIBAO,)
    window = default_window(cycle)
    assert (draft.window_start, draft.window_end) == (
        window.start.isoformat(),
        window.end.isoformat(),
    )
    after = await rig.roster.get(WORKER, "HH-1")
    last = after.record.last_check
    assert last is not None and last.verification_id == v.id
    assert last.outcome is CheckOutcome.COMPLETE and last.check_date == TODAY
    assert after.record.schedule.next_due == due_after(TODAY, 12)
    assert after.state is RecheckState.NOT_DUE and not after.overdue
    assert [j.state for j in rig.jobs()] == [JobState.DONE]
    scheduled = rig.entries("recheck_scheduled")
    assert len(scheduled) == 1 and scheduled[0]["details"]["cycle_due"] == cycle.isoformat()
    assert scheduled[0]["actor"]["system"] == "hedui-roster"
    assert scheduled[0]["details"]["for_system"] == "county-system"
    # The check went through the intake: its authorization and intent are audited.
    allowed = [e for e in rig.entries("authorize") if e["outcome"] == "allow"]
    assert [e["verification_id"] for e in allowed] == [v.id]
    assert len(rig.entries("access_intent")) == 1 and len(rig.entries("released")) == 1


async def test_a_start_replayed_after_a_crash_is_the_same_check(rig: Rig) -> None:
    await rig.register("HH-1")
    await rig.roster.import_entries(WORKER, [entry_draft("HH-1", last_check=LAST_YEAR)])
    # The first process starts the check and dies before it notes the start.
    assert await rig.scheduler(fail_after=True).tick() > 0
    assert [j.state for j in rig.jobs()] == [JobState.PENDING]
    # Another takes the job over once the lease has expired: the same request id, so the
    # same verification, answered as a replay.
    assert await rig.scheduler(hours=1).tick() > 0
    assert len(rig.starts) == 2 and rig.starts[0] == rig.starts[1]
    [v] = rig.verifications()
    assert [j.state for j in rig.jobs()] == [JobState.DONE]
    assert (await rig.roster.get(WORKER, "HH-1")).record.last_check.verification_id == v.id  # type: ignore[union-attr]


async def test_two_replicas_check_every_household_once(rig: Rig) -> None:
    refs = [f"HH-{i}" for i in range(12)]
    for ref in refs:
        await rig.register(ref)
    await rig.roster.import_entries(WORKER, [entry_draft(r, last_check=LAST_YEAR) for r in refs])
    # Small rounds, so the two interleave.
    a, b = rig.scheduler(batch=3), rig.scheduler(batch=3)
    while sum(await asyncio.gather(a.tick(), b.tick())):
        pass
    checks = rig.verifications()
    assert len(checks) == 12 and len({c.request_id for c in checks}) == 12
    assert {j.state for j in rig.jobs()} == {JobState.DONE} and len(rig.jobs()) == 12


@pytest.mark.parametrize("how", ["expired", "revoked", "missing"])
async def test_a_lapsed_authorization_is_not_run_and_raises_an_alert(rig: Rig, how: str) -> None:
    if how == "expired":
        await rig.register("HH-1", valid_until=TODAY - timedelta(days=1))
    elif how == "revoked":
        await rig.register("HH-1")
        await rig.consents.revoke(WORKER, "SQ-HH-1", "家庭撤回授权")
    await rig.roster.import_entries(WORKER, [entry_draft("HH-1", last_check=LAST_YEAR)])
    scheduler = rig.scheduler()
    assert await scheduler.tick() > 0
    assert await scheduler.tick() == 0
    assert rig.verifications() == [] and rig.starts == []
    [job] = rig.jobs()
    reason = {"expired": "CONSENT_EXPIRED", "revoked": "CONSENT_REVOKED"}.get(
        how, "CONSENT_MISSING"
    )
    assert (job.state, job.reason) == (JobState.REAUTHORIZATION_NEEDED, reason)
    [entry] = rig.entries("reauthorization_needed")
    assert entry["reason"] == reason and entry["details"]["household_ref"] == "HH-1"
    assert len(entry["subject_refs"]) == 2
    [alert] = rig.entries("alert_raised")
    assert alert["reason"] == "REAUTHORIZATION_NEEDED"
    view = await rig.roster.get(WORKER, "HH-1")
    assert view.state is RecheckState.REAUTHORIZATION_NEEDED and view.overdue
    assert view.record.job_reason == reason
    # A new 授权书, named by a re-import, lets the cycle's re-check run.
    await rig.register("HH-1", "SQ-HH-1-2026")
    await rig.roster.import_entries(
        WORKER, [entry_draft("HH-1", last_check=LAST_YEAR, number="SQ-HH-1-2026")]
    )
    assert (await rig.roster.get(WORKER, "HH-1")).state is RecheckState.DUE
    assert await scheduler.tick() > 0
    [v] = rig.verifications()
    assert rig.starts[0].authorization_id == "SQ-HH-1-2026"
    assert (await rig.roster.get(WORKER, "HH-1")).record.last_check.verification_id == v.id  # type: ignore[union-attr]


async def test_a_superseded_authorization_is_followed_to_the_households_new_one(rig: Rig) -> None:
    await rig.register("HH-1")
    await rig.register("HH-1", "SQ-HH-1-NEW")  # the same applicant: supersedes SQ-HH-1
    await rig.roster.import_entries(WORKER, [entry_draft("HH-1", last_check=LAST_YEAR)])
    assert await rig.scheduler().tick() > 0
    assert [d.authorization_id for d in rig.starts] == ["SQ-HH-1-NEW"]
    assert len(rig.verifications()) == 1


async def test_an_authorization_that_does_not_cover_the_household_is_refused_by_the_intake(
    rig: Rig,
) -> None:
    ids = member_ids("HH-1")
    await rig.consents.register(
        WORKER,
        consent_draft("SQ-HH-1", [(ids[0], Relation.APPLICANT)], region="341824"),
    )
    await rig.roster.import_entries(WORKER, [entry_draft("HH-1", last_check=LAST_YEAR)])
    assert await rig.scheduler().tick() > 0
    [job] = rig.jobs()
    assert job.state is JobState.REAUTHORIZATION_NEEDED
    assert job.reason == "CONSENT_SUBJECT_NOT_COVERED"
    assert rig.verifications() == []
    denied = [e for e in rig.entries("authorize") if e["outcome"] == "deny"]
    assert [e["reason"] for e in denied] == ["CONSENT_SUBJECT_NOT_COVERED"]


async def test_a_household_removed_before_its_check_is_not_checked(rig: Rig) -> None:
    await rig.register("HH-1")
    await rig.roster.import_entries(WORKER, [entry_draft("HH-1", last_check=LAST_YEAR)])
    scheduler = rig.scheduler()
    async with rig.store.unit_of_work(write=True) as uow:
        await uow.rechecks.enqueue_due(TODAY, datetime.now(UTC), 10)
        await uow.commit()
    await rig.roster.remove(WORKER, "HH-1", "341824", "停保")
    assert await scheduler.tick() == 0
    assert rig.verifications() == [] and [j.state for j in rig.jobs()] == [JobState.CANCELLED]


async def test_households_not_due_and_without_a_cycle_are_left_alone(rig: Rig) -> None:
    await rig.register("HH-1")
    await rig.register("HH-2")
    await rig.roster.import_entries(
        WORKER,
        [
            entry_draft("HH-1", last_check=TODAY - timedelta(days=30)),
            entry_draft(
                "HH-2",
                last_check=LAST_YEAR,
                roster_class=RosterClass.LINSHI,
                programs=(Purpose.LINSHI,),
            ),
        ],
    )
    assert await rig.scheduler().tick() == 0
    assert rig.jobs() == [] and rig.verifications() == []


async def test_the_last_check_recorded_by_the_case_system_counts(rig: Rig) -> None:
    await rig.register("HH-1")
    await rig.roster.import_entries(WORKER, [entry_draft("HH-1", last_check=date(2025, 1, 6))])
    view = await rig.roster.get(WORKER, "HH-1")
    assert view.record.last_check is not None
    assert view.record.last_check.outcome is CheckOutcome.RECORDED
    assert view.record.schedule.next_due == due_after(date(2025, 1, 6), 12)


async def test_rechecks_are_started_in_the_batch_lane() -> None:
    seen: list[Any] = []

    class Service:
        async def create(self, caller: Caller, draft: RequestDraft, **kw: Any) -> Any:
            seen.append(kw)

            class Record:
                id = "v-1"
                latest_version = 1

            class View:
                record = Record()

            return View()

    started = await recheck_starter(Service())(WORKER, household_draft(), 0.0, False)  # type: ignore[arg-type]
    assert started == StartedCheck("v-1", True)
    await recheck_starter(Service())(WORKER, household_draft(), 0.0, True)  # type: ignore[arg-type]
    [kw, urgent] = seen
    assert kw["terms"].lane is Lane.BATCH and kw["terms"].batch_id is None and kw["wait"]
    # Outside the per-user volume limit, from what hedui recorded, not from the request.
    assert kw["terms"].origin is CheckOrigin.ROSTER
    # A re-check staff asked for urgently runs in the urgent lane, still of the roster.
    assert urgent["terms"].lane is Lane.URGENT and urgent["terms"].origin is CheckOrigin.ROSTER


async def test_a_cycle_larger_than_the_per_user_limit_runs_whole() -> None:
    rig = make_rig(volume_soft=2, volume_hard=3)
    refs = [f"HH-{i}" for i in range(1, 7)]
    for ref in refs:
        await rig.register(ref)
    await rig.roster.import_entries(
        WORKER, [entry_draft(ref, last_check=LAST_YEAR) for ref in refs]
    )
    scheduler = rig.scheduler()
    while await scheduler.tick():
        pass
    assert [j.state for j in rig.jobs()] == [JobState.DONE] * 6
    assert len(rig.verifications()) == 6
    # No refusal and no volume anomaly for the roster's checks: they are the roster's.
    assert [e for e in rig.store.entries() if e["outcome"] == "deny"] == []
    assert rig.entries("anomaly") == []
    # A person at the same system is still held to the limit.
    for i in range(3):
        await rig.service.create(WORKER, replace(rig.starts[i], request_id=f"r-{i}"), wait=True)
    with pytest.raises(ResourceExhausted) as refused:
        await rig.service.create(WORKER, replace(rig.starts[3], request_id="r-3"), wait=True)
    assert refused.value.reason == "VOLUME_LIMIT"
    await rig.service.aclose()


async def test_a_recheck_now_whose_process_died_is_run_by_a_scheduler_as_the_same_check(
    rig: Rig,
) -> None:
    await rig.register("HH-1")
    await rig.roster.import_entries(
        WORKER, [entry_draft("HH-1", last_check=TODAY - timedelta(days=3))]
    )
    # The asking process records the check's intent and dies before it notes the start.
    dying = RosterService(rig.store, KEY, scheduler=rig.scheduler(fail_after=True))
    with pytest.raises(RuntimeError):
        await dying.recheck(WORKER, "HH-1", "341824", "now-1", urgent=True)
    [job] = rig.jobs()
    assert job.state is JobState.PENDING and job.on_demand and job.urgent
    # Its lease runs out; any replica's scheduler starts the job: the same check, urgent.
    later = rig.scheduler(hours=1)
    assert await later.tick() > 0
    [v] = rig.verifications()
    [job] = rig.jobs()
    assert job.state is JobState.DONE and job.verification_id == v.id
    terms = rig.store.tables.batches.terms[v.id]
    assert terms.urgent and terms.origin is CheckOrigin.ROSTER
    # The asking request, retried, is answered with that check; nothing new runs.
    again = await RosterService(rig.store, KEY, scheduler=later).recheck(
        WORKER, "HH-1", "341824", "now-1", urgent=True
    )
    assert again.replayed and again.verification_id == v.id
    assert len(rig.verifications()) == 1 and len(rig.jobs()) == 1
    after = await rig.roster.get(WORKER, "HH-1")
    assert after.record.last_check is not None
    assert after.record.last_check.verification_id == v.id
