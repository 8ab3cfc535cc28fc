"""The re-check jobs repository: one job per roster entry and cycle, leased.

The key (entry id, cycle due day) is unique, so however many server processes enqueue
the same due entry, one job exists; leases are taken with ``FOR UPDATE SKIP LOCKED``
(PostgreSQL), so replicas share the jobs, and a dead replica's leases expire.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import date, datetime

from verifier.domain.outcomes import Completeness
from verifier.domain.roster.recheck import JobState, RecheckJob


@dataclass(frozen=True, slots=True)
class ReleasedCheck:
    """A started re-check whose first report is out: what the roster records of it."""

    job: RecheckJob
    verification_id: str
    released_at: datetime
    completeness: Completeness


class RecheckRepository(abc.ABC):
    @abc.abstractmethod
    async def has_work(self, today: date, now: datetime) -> bool:
        """Whether an entry is due without a job for its cycle, a PENDING job is not
        leased (or its lease expired), or a STARTED job's first report is out (a cheap
        read)."""

    @abc.abstractmethod
    async def enqueue_due(self, today: date, now: datetime, limit: int) -> list[RecheckJob]:
        """Create the PENDING job of each entry due on or before ``today`` that has none
        for its cycle (at most ``limit``); return the jobs this call created. A job
        another process created first is not created again."""

    @abc.abstractmethod
    async def lease(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[RecheckJob]:
        """PENDING jobs nobody holds, due first, leased to ``owner`` until ``until``."""

    @abc.abstractmethod
    async def add_on_demand(
        self, job: RecheckJob, owner: str, now: datetime, until: datetime
    ) -> bool:
        """A job asked for now, created PENDING and leased to ``owner`` until ``until``
        (so no other process starts it meanwhile). False when a job with its request id
        exists already (nothing is written)."""

    @abc.abstractmethod
    async def take(
        self, job_id: str, owner: str, now: datetime, until: datetime
    ) -> RecheckJob | None:
        """Lease this job to ``owner`` if it is PENDING and nobody else holds it (or the
        holder's lease expired); None otherwise."""

    @abc.abstractmethod
    async def started(self, job_id: str, owner: str, verification_id: str, now: datetime) -> bool:
        """The job's check exists: STARTED with its verification, lease released. False
        if ``owner`` no longer holds the job."""

    @abc.abstractmethod
    async def finish(
        self, job_id: str, owner: str, state: JobState, reason: str, now: datetime
    ) -> bool:
        """A terminal state without a check (REAUTHORIZATION_NEEDED, FAILED). False if
        ``owner`` no longer holds the job."""

    @abc.abstractmethod
    async def retry_later(self, job_id: str, owner: str, at: datetime, reason: str) -> bool:
        """Give the lease back; the job is not leased again before ``at``."""

    @abc.abstractmethod
    async def released(self, limit: int) -> list[ReleasedCheck]:
        """STARTED jobs whose verification has released its first report, locked until
        the end of this unit (SKIP LOCKED on PostgreSQL)."""

    @abc.abstractmethod
    async def complete(self, job_id: str, now: datetime) -> None:
        """STARTED → DONE."""

    @abc.abstractmethod
    async def cancel_pending(self, entry_id: str, keep_cycle: date | None, now: datetime) -> int:
        """Cancel the entry's PENDING jobs (but the one of ``keep_cycle``); how many."""

    @abc.abstractmethod
    async def reopen(self, entry_id: str, cycle_due: date, now: datetime) -> bool:
        """A REAUTHORIZATION_NEEDED or FAILED job of that cycle back to PENDING (the
        entry names a new 授权书, or was corrected)."""

    @abc.abstractmethod
    async def for_cycle(self, entry_id: str, cycle_due: date) -> RecheckJob | None:
        """The job of that cycle (never one asked for now)."""

    @abc.abstractmethod
    async def for_request(self, request_id: str) -> RecheckJob | None:
        """The job whose check has this request id (change detection links a re-check
        to its roster entry)."""
