"""Starting a leased re-check job: the 授权书 in force (following supersession), the
check's request built from the roster entry, and the start through the intake use case
on behalf of the system that imported the entry. A job that cannot be run ends in a
state that says why (REAUTHORIZATION_NEEDED, FAILED, CANCELLED) or waits (PENDING)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import structlog

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
from verifier.domain.ports import RosterRecord, UnitOfWork
from verifier.domain.roster import JobState, RecheckJob, china_date
from verifier.domain.vocabulary import Role
from verifier.service.roster.reauthorization import SCHEDULER_USER, Reauthorization

__all__ = ["SUPERSEDE_DEPTH", "JobStarter", "RunResult", "StartCheck", "StartedCheck"]

log = structlog.get_logger("hedui.roster.scheduler")

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


class JobStarter(Reauthorization):
    """Runs the jobs this process holds."""

    _start: StartCheck
    _wait: float
    _retry: float

    @staticmethod
    def _caller(record: RosterRecord) -> Caller:
        """Who a re-check is recorded for: the system that imported the entry, so the
        report, the listing and the watch are that system's, as its own checks are."""
        return Caller(record.owner_system, SCHEDULER_USER, Role.CASEWORKER.value, (record.region,))

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
