"""The polls repository: work that outlives a request, leased to one process at a time.

Two kinds: PENDING sources due to be asked again (banks answer days later), and runs
whose process stopped renewing its lease. A dead process's leases simply expire."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PollLease:
    """A PENDING source this process now owns until ``lease_until``."""

    verification_id: str
    member_index: int
    source: str
    ticket: str
    poll_attempts: int
    due_at: datetime | None
    overdue_flagged: bool


class PollRepository(abc.ABC):
    @abc.abstractmethod
    async def has_due_work(self, now: datetime) -> bool:
        """Whether any poll is due or any run's lease has expired (a cheap read)."""

    @abc.abstractmethod
    async def lease(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[PollLease]:
        """Lease due PENDING sources nobody holds (SKIP LOCKED on PostgreSQL)."""

    @abc.abstractmethod
    async def reschedule(
        self, lease: PollLease, owner: str, next_poll_at: datetime, reason: str
    ) -> bool:
        """Still pending: release the lease and poll again later. False if the lease was lost."""

    @abc.abstractmethod
    async def holds(self, verification_id: str, member_index: int, source: str, owner: str) -> bool:
        """Whether ``owner`` still holds the lease on that PENDING source."""

    @abc.abstractmethod
    async def claim_stale_runs(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[str]:
        """RUNNING verifications whose asking process stopped renewing its lease."""

    @abc.abstractmethod
    async def release_runs(self, owner: str, verification_ids: list[str], now: datetime) -> int:
        """Let go of RUNNING verifications ``owner`` holds (their run stopped on a storage
        failure): their leases end at ``now``, so the next :meth:`claim_stale_runs`, in
        this process or another, resumes them. Returns how many were let go."""
