"""Asks to federation peers to be made again: a peer that did not answer in time (or
answered that it is still waiting on its sources) is asked again later, by whichever
process claims the retry first.

Retries are leased like polls (:mod:`verifier.domain.ports.polls`): a claimed retry is
held by one process until its lease ends, so a process that dies simply lets it go. A
process whose lease ended while it was still asking may find the retry claimed by
another: only the holder reschedules or finishes it (``owner``), and a release finishing
it first checks that it still ``holds`` it, so one answer never makes two versions."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime, timedelta

from hedui_sdk import SourceKind


@dataclass(frozen=True, slots=True)
class RetryKey:
    """Which retry: one per check, peer and ask (its request id)."""

    verification_id: str
    peer: str
    ask_request_id: str


@dataclass(frozen=True, slots=True)
class PeerRetry:
    """One 协查 to ask a peer again."""

    verification_id: str
    peer: str
    """The peer deployment's name."""
    ask_request_id: str
    """The request id of the 协查 (the same on every attempt, so the peer answers once)."""
    members: tuple[int, ...]
    """Indexes in the request of the members asked about."""
    sources: tuple[SourceKind, ...]
    deadline_at: datetime
    """After this the peer's missing answers are given up (TIMED_OUT)."""
    next_at: datetime
    """When to ask next."""
    attempts: int
    """Asks made so far."""

    @property
    def key(self) -> RetryKey:
        """The retry's identity (what schedule, reschedule and finish match on)."""
        return RetryKey(self.verification_id, self.peer, self.ask_request_id)


class FederationRetryRepository(abc.ABC):
    @abc.abstractmethod
    async def schedule(self, retry: PeerRetry) -> None:
        """Keep ``retry`` unless one with the same (verification_id, peer,
        ask_request_id) is kept: that one stands as it is (its deadline, attempts, next
        ask and lease), so a resumed run asking again neither moves the agreement's
        deadline nor takes the retry from the process holding it."""

    @abc.abstractmethod
    async def claim_due(
        self, now: datetime, owner: str, lease: timedelta, limit: int
    ) -> list[PeerRetry]:
        """Lease to ``owner`` until ``now + lease`` at most ``limit`` retries due at
        ``now`` that nobody holds (or whose lease ended), earliest first; SKIP LOCKED on
        PostgreSQL, so concurrent processes claim different ones."""

    @abc.abstractmethod
    async def reschedule(
        self,
        verification_id: str,
        peer: str,
        ask_request_id: str,
        next_at: datetime,
        attempts: int,
        owner: str,
    ) -> bool:
        """Ask again at ``next_at``, releasing ``owner``'s lease. False (nothing changed)
        if the retry is gone or ``owner`` no longer holds it."""

    @abc.abstractmethod
    async def finish(
        self, verification_id: str, peer: str, ask_request_id: str, owner: str | None = None
    ) -> bool:
        """Forget the retry (answered or given up). With ``owner``, only if ``owner``
        holds it; without, whoever holds it (a run whose own ask was answered). False
        if nothing was forgotten."""

    @abc.abstractmethod
    async def holds(self, verification_id: str, peer: str, ask_request_id: str, owner: str) -> bool:
        """Whether the retry is kept and leased to ``owner`` (its lease may have ended
        without anyone claiming it since). On PostgreSQL the row stays locked until the
        transaction ends, so no other process claims it in between."""

    @abc.abstractmethod
    async def pending(self, verification_id: str) -> bool:
        """Whether any retry of the verification is kept (due or not, leased or not)."""

    @abc.abstractmethod
    async def has_due(self, now: datetime) -> bool:
        """Whether any retry is due at ``now`` and not leased (a cheap read)."""
