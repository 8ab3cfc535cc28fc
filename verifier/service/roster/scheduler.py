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
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import structlog

from audit.entry import EntryDraft
from verifier.domain.ports import ReleasedCheck, RosterRecord, Store, UnitOfWork
from verifier.domain.roster import CheckOutcome, LastCheck, china_date
from verifier.domain.vocabulary import AuditAction
from verifier.service.background import run_rounds
from verifier.service.monitoring.raising import AlertRaiser
from verifier.service.roster.reauthorization import SCHEDULER_USER
from verifier.service.roster.schedule import schedule_for
from verifier.service.roster.starting import JobStarter, RunResult, StartCheck, StartedCheck

__all__ = ["SCHEDULER_USER", "RecheckScheduler", "RunResult", "StartCheck", "StartedCheck"]

log = structlog.get_logger("hedui.roster.scheduler")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RecheckScheduler(JobStarter):
    """The rounds: enqueue the due, lease, start (:mod:`.starting`), complete. A job
    refused for its 授权书 is :mod:`.reauthorization`'s."""

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
