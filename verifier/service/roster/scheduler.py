"""The re-check scheduler inside the server: due households re-checked as leased jobs.

Each round, any replica may

1. enqueue: create the job of each entry due today (China's date) that has none for
   its cycle. The job's key (entry, cycle) is unique, so replicas racing for the same
   entry make one job (and one ``recheck_scheduled`` audit entry);
2. lease PENDING jobs (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and start each job's
   check through the same intake use case as an interactive check: on behalf of the
   system that imported the entry (so its case system reads, lists and watches the
   re-check as its own), by the scheduler's user, under the roster's 授权书, with a
   request id derived from the job's key. A replay of the start — after a ``kill -9``,
   or by a replica whose lease took over — is therefore the same check, answered as a
   replay, never a second one;
3. complete: when a started check's first report is released, record it as the entry's
   last check and compute the next due day, in one transaction.

A job whose 授权书 has expired, was revoked or does not cover the check is not run: it
is marked REAUTHORIZATION_NEEDED, with a ``reauthorization_needed`` audit entry and an
alert through the alerts port.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import structlog

from audit.entry import Actor, EntryDraft
from verifier.domain.caller import Caller
from verifier.domain.consent import ConsentRecord, ConsentState
from verifier.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
)
from verifier.domain.household import (
    Declaration,
    DeclarationDraft,
    Member,
    MemberDraft,
    Purpose,
    RequestDraft,
    default_window,
)
from verifier.domain.ports import ReleasedCheck, RosterRecord, Store, UnitOfWork
from verifier.domain.pseudonym import subject_ref
from verifier.domain.roster import (
    CheckOutcome,
    JobState,
    LastCheck,
    RecheckJob,
    china_date,
)
from verifier.domain.vocabulary import AuditAction, Role
from verifier.service.background import run_rounds
from verifier.service.monitoring.raising import AlertRaiser
from verifier.service.roster.schedule import schedule_for

__all__ = ["SCHEDULER_USER", "RecheckScheduler", "RunResult", "StartCheck", "StartedCheck"]

log = structlog.get_logger("hedui.roster.scheduler")

SCHEDULER_USER = "recheck-scheduler"
"""The user the scheduler's checks are recorded under, on behalf of the entry's owner
system; its own audit entries name the scheduler's system (``[roster] system``)."""
SUPERSEDE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class StartedCheck:
    verification_id: str
    released: bool
    """Whether its first report was released before the start returned."""


StartCheck = Callable[[Caller, RequestDraft, float | None, bool], Awaitable[StartedCheck]]
"""Start a check through the intake use case (urgent or not), waiting at most until the
monotonic instant given for its first report (None: not waiting for it)."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """Where starting a job left it: STARTED with its check, a state without a check
    (REAUTHORIZATION_NEEDED, FAILED, CANCELLED) and why, or PENDING (tried later)."""

    state: JobState
    verification_id: str = ""
    reason: str = ""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _member_draft(m: Member) -> MemberDraft:
    c = m.circumstances
    return MemberDraft(
        id_type=m.subject.id_type,
        id_number=m.subject.id_number,
        name=m.subject.name,
        relation=m.relation,
        disability_grade=c.disability_grade or 0,
        serious_illness=c.serious_illness,
        in_school=c.in_school,
        able_to_work=c.able_to_work,
        supporter=c.supporter,
    )


class RecheckScheduler:
    def __init__(
        self,
        store: Store,
        start: StartCheck,
        pseudonym_key: bytes,
        *,
        system: str = "hedui-roster",
        alerts: AlertRaiser | None = None,
        batch: int = 16,
        lease_seconds: float = 120.0,
        wait_seconds: float = 30.0,
        retry_seconds: float = 60.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._start = start
        self._pkey = pseudonym_key
        self.system = system
        self._alerts = alerts
        self._batch = batch
        self._lease = timedelta(seconds=lease_seconds)
        self.lease_seconds = lease_seconds
        self._wait = wait_seconds
        self._retry = retry_seconds
        self._clock = clock
        # Unique per start, so a restarted process does not take its predecessor's
        # leases for its own.
        self.owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def _actor(self, region: str) -> Actor:
        """The scheduler itself, in its own audit entries (``recheck_scheduled``,
        ``reauthorization_needed``); their details name the system it acts for."""
        return Actor(system=self.system, user=SCHEDULER_USER, role="system", region=region)

    @staticmethod
    def _caller(record: RosterRecord) -> Caller:
        """Who a re-check is recorded for: the system that imported the entry, so the
        report, the listing and the watch are that system's, as its own checks are."""
        return Caller(record.owner_system, SCHEDULER_USER, Role.CASEWORKER.value, (record.region,))

    # ------------------------------------------------------------------ one round
    async def tick(self) -> int:
        """One round: complete, enqueue, lease and start. Returns the work done."""
        now = self._clock()
        today = china_date(now)
        # A read first: an idle replica must not take the write lock every round.
        async with self._store.unit_of_work(write=False) as uow:
            if not await uow.rechecks.has_work(today, now):
                return 0
        done = await self.complete_released()
        done += await self._store.write(lambda uow: self._enqueue(uow, today, now))
        leases = await self._store.write(
            lambda uow: uow.rechecks.lease(self.owner, now, now + self._lease, self._batch)
        )
        if leases:
            await asyncio.gather(*(self._guarded(job) for job in leases))
            done += len(leases) + await self.complete_released()
        return done

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Tick until ``stop`` is set; idle rounds wait ``interval`` (or for ``stop``)."""
        # A failed round (a database outage) does not end the loop: the jobs stay stored.
        await run_rounds(self.tick, stop, interval, log=log, failed="recheck_round_failed")

    async def _enqueue(self, uow: UnitOfWork, today: date, now: datetime) -> int:
        jobs = await uow.rechecks.enqueue_due(today, now, self._batch)
        entries = []
        for job in jobs:
            record = await uow.roster.get_by_id(job.entry_id)
            entries.append(
                EntryDraft(
                    actor=self._actor(job.region),
                    action=AuditAction.RECHECK_SCHEDULED.value,
                    outcome="recorded",
                    case_id=record.case_ref if record else "",
                    subject_refs=record.subject_refs if record else (),
                    request_id=job.request_id,
                    details={
                        "job_id": job.id,
                        "entry_id": job.entry_id,
                        "household_ref": job.household_ref,
                        "region": job.region,
                        "cycle_due": job.cycle_due.isoformat(),
                        "for_system": record.owner_system if record else "",
                    },
                )
            )
        if entries:
            await uow.audit.append(entries)
        return len(jobs)

    # ------------------------------------------------------------------ completing
    async def complete_released(self) -> int:
        """Record each started re-check whose first report is out as its entry's last
        check, and the next due day that follows; the job is DONE."""

        async def work(uow: UnitOfWork) -> int:
            now = self._clock()
            released = await uow.rechecks.released(self._batch)
            for r in released:
                record = await uow.roster.get_by_id(r.job.entry_id)
                if record is not None:
                    await self._record(uow, record, r)
                await uow.rechecks.complete(r.job.id, now)
            return len(released)

        return await self._store.write(work)

    async def _record(self, uow: UnitOfWork, record: RosterRecord, released: ReleasedCheck) -> None:
        at = released.released_at
        day = china_date(at)
        mine = record.hedui_check
        if mine is not None and mine.check_date > day:
            return  # a later check is recorded already
        outcome = CheckOutcome(released.completeness.value)
        check = LastCheck(day, outcome, released.verification_id, at)
        base = max(d for d in (day, record.imported_check) if d is not None)
        schedule = schedule_for(record.region, record.roster_class, base, china_date(self._clock()))
        await uow.roster.record_check(record.id, check, schedule)

    # ------------------------------------------------------------------ starting
    async def _guarded(self, job: RecheckJob) -> None:
        try:
            await self.run_job(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The lease expires and this or another replica tries again.
            log.warning("recheck_start_failed", job_id=job.id, error=type(exc).__name__)

    async def consent(
        self, uow: UnitOfWork, number: str, today: date
    ) -> tuple[ConsentRecord | None, str, str]:
        """The 授权书 to use (following supersession to the household's newer one) and,
        when none is in force, why: CONSENT_MISSING, CONSENT_REVOKED, CONSENT_EXPIRED."""
        for _ in range(SUPERSEDE_DEPTH):
            consent = await uow.consents.get(number)
            if consent is None:
                return None, number, "CONSENT_MISSING"
            state = consent.state_on(today)
            if state is ConsentState.SUPERSEDED and consent.superseded_by:
                number = consent.superseded_by
                continue
            if state is ConsentState.ACTIVE:
                return consent, number, ""
            if state is ConsentState.EXPIRED:
                return consent, number, "CONSENT_EXPIRED"
            return consent, number, "CONSENT_REVOKED"
        return None, number, "CONSENT_REVOKED"

    def _draft(
        self,
        job: RecheckJob,
        record: RosterRecord,
        members: Sequence[Member],
        declaration: Declaration | None,
        number: str,
        consent: ConsentRecord,
    ) -> RequestDraft:
        purposes = list(record.programs)
        # A 低保 household's re-check also assesses 低保边缘 (the change document's 1.5×
        # line) when its 授权书 covers that purpose: one 授权书 serves all five programs.
        if Purpose.DIBAO in purposes and Purpose.DIBAO_BIANYUAN in consent.purposes:
            purposes.append(Purpose.DIBAO_BIANYUAN)
        window = default_window(job.cycle_due)
        decl = None
        if declaration is not None:
            decl = DeclarationDraft(
                incomes=tuple(declaration.monthly_income_fen),
                assets=tuple((a.category, a.value_fen, a.count) for a in declaration.assets),
                member_count=declaration.member_count or 0,
            )
        return RequestDraft(
            request_id=job.request_id,
            case_id=record.case_ref,
            authorization_id=number,
            purposes=tuple(p for p in Purpose if p in purposes),
            region=record.region,
            members=tuple(_member_draft(m) for m in members),
            sources=(),
            # The window is the cycle's, not today's: a replayed start is the same request.
            window_start=window.start.isoformat(),
            window_end=window.end.isoformat(),
            hukou=record.hukou,
            declaration=decl,
            current_programs=record.programs,
        )

    async def run_job(self, job: RecheckJob, *, wait: bool = True) -> RunResult:
        """Start a job this process holds: its check through the intake, or the reason it
        is not run. With ``wait``, for at most the scheduler's wait for its first report
        (a caller's deadline: sources silent by then count as failed in that report);
        without, the check runs to its own deadline."""
        now = self._clock()
        today = china_date(now)
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.roster.get_by_id(job.entry_id)
            members: tuple[Member, ...] = ()
            declaration: Declaration | None = None
            if record is not None:
                members, declaration = await uow.roster.household(record.id)
            consent, number, why = await self.consent(
                uow, record.authorization_number if record else "", today
            )
        if record is None:
            await self._finish(job, JobState.CANCELLED, "ENTRY_REMOVED")
            return RunResult(JobState.CANCELLED, reason="ENTRY_REMOVED")
        if consent is None or why:
            why = why or "CONSENT_MISSING"
            await self._reauthorize(job, record, members, number, why)
            return RunResult(JobState.REAUTHORIZATION_NEEDED, reason=why)
        caller = self._caller(record)
        draft = self._draft(job, record, members, declaration, number, consent)
        until = time.monotonic() + self._wait if wait else None
        try:
            started = await self._start(caller, draft, until, job.urgent)
        except PermissionDenied as exc:
            # The intake's own coverage check: a member or purpose the 授权书 does not
            # cover, or one that lapsed since it was read above.
            await self._reauthorize(job, record, members, number, exc.reason)
            return RunResult(JobState.REAUTHORIZATION_NEEDED, reason=exc.reason)
        except InvalidArgument as exc:
            why = "; ".join(f"{v.field}: {v.description}" for v in exc.violations)
            await self._finish(job, JobState.FAILED, why)
            return RunResult(JobState.FAILED, reason=why)
        except FailedPrecondition:
            # The request id was used with other content: the entry changed after this
            # cycle's check was recorded. That check is the cycle's.
            vid = await self._existing(job, caller.system)
            if vid is None:
                raise
            started = StartedCheck(vid, False)
        except ResourceExhausted as exc:
            await self._retry_later(job, exc.reason)
            return RunResult(JobState.PENDING, reason=exc.reason)
        log.info(
            "recheck_started",
            job_id=job.id,
            verification_id=started.verification_id,
            released=started.released,
        )
        await self._store.write(
            lambda uow: uow.rechecks.started(
                job.id, self.owner, started.verification_id, self._clock()
            )
        )
        return RunResult(JobState.STARTED, started.verification_id)

    async def _existing(self, job: RecheckJob, system: str) -> str | None:
        async with self._store.unit_of_work(write=False) as uow:
            found = await uow.verifications.find_by_request(system, job.request_id)
        return found.id if found else None

    async def _finish(self, job: RecheckJob, state: JobState, reason: str) -> None:
        now = self._clock()
        await self._store.write(
            lambda uow: uow.rechecks.finish(job.id, self.owner, state, reason, now)
        )
        log.info("recheck_not_run", job_id=job.id, state=state.value)

    async def _retry_later(self, job: RecheckJob, reason: str) -> None:
        at = self._clock() + timedelta(seconds=self._retry * min(2 ** (job.attempts - 1), 64))
        await self._store.write(
            lambda uow: uow.rechecks.retry_later(job.id, self.owner, at, reason)
        )

    async def _reauthorize(
        self,
        job: RecheckJob,
        record: RosterRecord,
        members: Sequence[Member],
        number: str,
        reason: str,
    ) -> None:
        now = self._clock()

        async def work(uow: UnitOfWork) -> bool:
            if not await uow.rechecks.finish(
                job.id, self.owner, JobState.REAUTHORIZATION_NEEDED, reason, now
            ):
                return False  # our lease ran out: whoever holds the job decides
            await self.record_reauthorization(uow, job, record, members, number, reason, now)
            return True

        if await self._store.write(work):
            log.info("recheck_reauthorization_needed", job_id=job.id, reason=reason)

    async def record_reauthorization(
        self,
        uow: UnitOfWork,
        job: RecheckJob,
        record: RosterRecord,
        members: Sequence[Member],
        number: str,
        reason: str,
        now: datetime,
    ) -> None:
        """The ``reauthorization_needed`` audit entry and alert of a re-check not run for
        its 授权书 (a job asked for now and refused has no stored job: ``job.id`` "")."""
        applicant = next((m.subject for m in members if m.relation.value == "applicant"), None)
        household = (
            subject_ref(self._pkey, applicant.id_type, applicant.id_number) if applicant else ""
        )
        await uow.audit.append(
            [
                EntryDraft(
                    actor=self._actor(record.region),
                    action=AuditAction.REAUTHORIZATION_NEEDED.value,
                    outcome="recorded",
                    case_id=record.case_ref,
                    subject_refs=record.subject_refs,
                    reason=reason,
                    request_id=job.request_id,
                    details={
                        "job_id": job.id,
                        "household_ref": record.household_ref,
                        "region": record.region,
                        "cycle_due": job.cycle_due.isoformat(),
                        "authorization_number": number,
                        "for_system": record.owner_system,
                        "on_demand": job.on_demand,
                    },
                )
            ]
        )
        if self._alerts is not None:
            await self._alerts.reauthorization_needed(
                uow,
                region=record.region,
                household_ref=household,
                authorization_id=number,
                cycle=job.cycle_due.isoformat(),
                why=reason.removeprefix("CONSENT_").lower(),
                case_id=record.case_ref,
                now=now,
            )
