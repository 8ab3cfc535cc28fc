"""Re-check now: staff ask for a roster household's re-check out of its cycle.

The request becomes a re-check job like a cycle's, run by the scheduler's machinery:
created already leased to this process (so no replica starts it meanwhile), started at
once through the same intake, on behalf of the system that imported the entry. Its
check's request id is derived from the entry, the calling system and the caller's
``request_id``, and that request id is unique among jobs, so a retried request finds
its job (and its check) instead of making another; a process that dies after creating
the job leaves its lease to expire and any replica's scheduler starts it, as the same
check.

A household whose 授权书 has expired, was revoked or is not registered is refused the
way the scheduler refuses it — a ``reauthorization_needed`` audit entry and alert — and
no job or check is made.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from audit.entry import EntryDraft
from verifier.domain import identifiers as ids
from verifier.domain.caller import Caller
from verifier.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from verifier.domain.household import Member
from verifier.domain.ports import RosterRecord, UnitOfWork
from verifier.domain.roster import (
    HOUSEHOLD_REF,
    JobState,
    RecheckJob,
    china_date,
    recheck_now_request_id,
)
from verifier.domain.vocabulary import AuditAction, Role
from verifier.service.roster.access import RosterAccess
from verifier.service.roster.scheduler import RecheckScheduler, RunResult
from verifier.service.roster.views import RosterView

__all__ = ["RECHECK_ROLES", "RecheckNow", "RecheckStarted"]

RECHECK_ROLES = frozenset({Role.CASEWORKER.value, Role.ADMIN.value})
"""Who may ask for a re-check now: those who import and remove entries."""


@dataclass(frozen=True, slots=True)
class RecheckStarted:
    verification_id: str
    check_request_id: str
    """The check's request id, derived from the entry, the system and the request."""
    job_id: str
    replayed: bool
    """The request was seen before: its job's check, nothing new started."""
    view: RosterView
    """The entry as it stands now (without its household)."""


@dataclass(frozen=True, slots=True)
class _Found:
    record: RosterRecord
    members: tuple[Member, ...]
    job: RecheckJob | None
    """The job an earlier try of this request made."""
    refused: str
    """Why the 授权书 does not allow a re-check ("" when it does)."""
    number: str


def _refusal(result: RunResult) -> Exception:
    """The error a job that was not started comes to."""
    if result.state is JobState.REAUTHORIZATION_NEEDED:
        return PermissionDenied(result.reason, "the household's 授权书 does not cover a re-check")
    if result.state is JobState.PENDING:
        # Tried later by the scheduler (a source's quota): the job stands.
        return Unavailable("the re-check is queued and will be started by the scheduler")
    if result.state is JobState.CANCELLED:
        return NotFound("roster entry not found")
    return FailedPrecondition("the roster entry cannot make a valid check; correct and import it")


class RecheckNow:
    """The use case behind ``RecheckRosterEntry`` and ``hedui roster recheck``."""

    def __init__(
        self,
        roster: RosterAccess,
        scheduler: RecheckScheduler,
        *,
        lease_seconds: float = 120.0,
        clock: Callable[[], datetime],
    ) -> None:
        self._roster = roster
        self._scheduler = scheduler
        self._store = roster.store
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock

    async def recheck(
        self, caller: Caller, household_ref: str, region: str, request_id: str, *, urgent: bool
    ) -> RecheckStarted:
        """Start the entry's re-check now (urgent: in the urgent lane) and return its
        check; a repeated ``request_id`` returns the same check."""
        out: list[FieldViolation] = []
        HOUSEHOLD_REF.check(household_ref, "household_ref", out)
        ids.REGION_CODE.check(region, "region_code", out)
        ids.REQUEST_ID.check(request_id, "request_id", out)
        if out:
            raise InvalidArgument(out)
        action = AuditAction.RECHECK_SCHEDULED
        details = {"household_ref": household_ref, "region": region, "on_demand": True}
        await self._roster.check_role(caller, RECHECK_ROLES, action, details)
        await self._roster.check_region(caller, region, action, details)
        now = self._clock()
        today = china_date(now)

        async with self._store.unit_of_work(write=False) as uow:
            found = await self._find(uow, caller, household_ref, region, request_id)
        record = found.record
        job = found.job
        if job is not None:
            return await self._again(job)
        job = RecheckJob(
            id=str(uuid.uuid4()),
            entry_id=record.id,
            region=record.region,
            household_ref=record.household_ref,
            cycle_due=today,
            state=JobState.PENDING,
            request_id=recheck_now_request_id(record.id, caller.system, request_id),
            attempts=1,
            on_demand=True,
            urgent=urgent,
        )
        if found.refused:
            await self._refuse(job, found)
            raise PermissionDenied(
                found.refused, "the household's 授权书 does not cover a re-check"
            )

        async def create(uow: UnitOfWork) -> bool:
            if not await uow.rechecks.add_on_demand(
                job, self._scheduler.owner, now, now + self._lease
            ):
                return False  # a concurrent try of the same request made it
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._roster.actor(caller),
                        action=action.value,
                        outcome="recorded",
                        case_id=record.case_ref,
                        subject_refs=record.subject_refs,
                        request_id=job.request_id,
                        details={
                            **details,
                            "job_id": job.id,
                            "entry_id": record.id,
                            "cycle_due": today.isoformat(),
                            "urgent": urgent,
                            "for_system": record.owner_system,
                        },
                    )
                ]
            )
            return True

        if not await self._store.write(create):
            async with self._store.unit_of_work(write=False) as uow:
                earlier = await uow.rechecks.for_request(job.request_id)
            if earlier is None:
                raise Unavailable("the re-check is being created; try again")
            return await self._again(earlier)
        # Its first report is not awaited: the caller watches the check.
        result = await self._scheduler.run_job(job, wait=False)
        if result.state is not JobState.STARTED:
            raise _refusal(result)
        return await self._started(result.verification_id, job, replayed=False)

    async def _started(self, vid: str, job: RecheckJob, *, replayed: bool) -> RecheckStarted:
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.roster.get_by_id(job.entry_id)
        if record is None:
            raise NotFound("roster entry not found")
        view = self._roster.view(record, china_date(self._clock()))
        return RecheckStarted(vid, job.request_id, job.id, replayed, view)

    async def _find(
        self,
        uow: UnitOfWork,
        caller: Caller,
        household_ref: str,
        region: str,
        request_id: str,
    ) -> _Found:
        record = await uow.roster.get(region, household_ref)
        if record is None:
            raise NotFound("roster entry not found")
        job = await uow.rechecks.for_request(
            recheck_now_request_id(record.id, caller.system, request_id)
        )
        members, _ = await uow.roster.household(record.id)
        consent, number, why = await self._scheduler.consent(
            uow, record.authorization_number, china_date(self._clock())
        )
        refused = why or ("CONSENT_MISSING" if consent is None else "")
        return _Found(record, members, job, refused, number)

    async def _again(self, job: RecheckJob) -> RecheckStarted:
        """A request seen before: its job's check; or, if the job is still waiting (its
        creator died before starting it), start it now if nobody else holds it."""
        if job.verification_id:
            return await self._started(job.verification_id, job, replayed=True)
        if job.state is not JobState.PENDING:
            raise _refusal(RunResult(job.state, reason=job.reason))
        now = self._clock()
        taken = await self._store.write(
            lambda uow: uow.rechecks.take(job.id, self._scheduler.owner, now, now + self._lease)
        )
        if taken is None:
            raise Unavailable("the re-check is being started; try again")
        result = await self._scheduler.run_job(taken, wait=False)
        if result.state is not JobState.STARTED:
            raise _refusal(result)
        return await self._started(result.verification_id, job, replayed=True)

    async def _refuse(self, job: RecheckJob, found: _Found) -> None:
        """The scheduler's refusal for the 授权书, without a job: its audit entry and
        the re-authorization alert."""
        now = self._clock()

        async def write(uow: UnitOfWork) -> None:
            await self._scheduler.record_reauthorization(
                uow,
                replace(job, id=""),
                found.record,
                found.members,
                found.number,
                found.refused,
                now,
            )

        await self._store.write(write)
