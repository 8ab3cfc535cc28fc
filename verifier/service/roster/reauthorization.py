"""A re-check not run for its 授权书: the job marked REAUTHORIZATION_NEEDED, a
``reauthorization_needed`` audit entry in the scheduler's own name, and an alert
through the alerts port. The scheduler refuses a cycle's job this way, and re-check now
a request, without a job."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from audit.entry import Actor, EntryDraft
from verifier.domain.household import Member
from verifier.domain.ports import RosterRecord, Store, UnitOfWork
from verifier.domain.pseudonym import subject_ref
from verifier.domain.roster import JobState, RecheckJob
from verifier.domain.vocabulary import AuditAction
from verifier.service.monitoring.raising import AlertRaiser

__all__ = ["SCHEDULER_USER", "Reauthorization"]

log = structlog.get_logger("hedui.roster.scheduler")

SCHEDULER_USER = "recheck-scheduler"
"""The user the scheduler's checks are recorded under, on behalf of the entry's owner
system; its own audit entries name the scheduler's system (``[roster] system``)."""


class Reauthorization:
    """The scheduler's own audit identity, and its refusal of a job for its 授权书."""

    _store: Store
    _pkey: bytes
    _alerts: AlertRaiser | None
    _clock: Callable[[], datetime]
    system: str
    owner: str

    def _actor(self, region: str) -> Actor:
        """The scheduler itself, in its own audit entries (``recheck_scheduled``,
        ``reauthorization_needed``); their details name the system it acts for."""
        return Actor(system=self.system, user=SCHEDULER_USER, role="system", region=region)

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
