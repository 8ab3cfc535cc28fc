"""The unit of work (one transaction, its repositories) and the store that opens them."""

from __future__ import annotations

import abc
from asyncio import Event
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

from verifier.domain.ports.alerts import AlertRepository
from verifier.domain.ports.audit import AuditRepository
from verifier.domain.ports.batches import BatchRepository
from verifier.domain.ports.cache import CacheRepository
from verifier.domain.ports.changes import ChangeRepository
from verifier.domain.ports.consents import ConsentRepository
from verifier.domain.ports.federation_rate import PeerRateRepository
from verifier.domain.ports.federation_retries import FederationRetryRepository
from verifier.domain.ports.fragments import FragmentRepository
from verifier.domain.ports.outbox import DeliveryRepository, OutboxRepository
from verifier.domain.ports.outcomes import OutcomeRepository
from verifier.domain.ports.peers import AnswerRepository, PeerRepository
from verifier.domain.ports.polls import PollRepository
from verifier.domain.ports.rechecks import RecheckRepository
from verifier.domain.ports.reports import ReportRepository
from verifier.domain.ports.retention import RetentionRepository
from verifier.domain.ports.roster import RosterRepository
from verifier.domain.ports.terms import TermsRepository
from verifier.domain.ports.verifications import VerificationRepository

T = TypeVar("T")


class UnitOfWork(abc.ABC):
    """One database transaction and the repositories working inside it. Rolls back on
    exit unless :meth:`commit` was called.

    The repositories are usable once the unit is entered (or, in :meth:`Store.write`,
    as soon as ``work`` is given the unit)."""

    verifications: VerificationRepository
    outcomes: OutcomeRepository
    polls: PollRepository
    reports: ReportRepository
    consents: ConsentRepository
    audit: AuditRepository
    cache: CacheRepository
    batches: BatchRepository
    terms: TermsRepository
    alerts: AlertRepository
    changes: ChangeRepository
    outbox: OutboxRepository
    deliveries: DeliveryRepository
    roster: RosterRepository
    rechecks: RecheckRepository
    retention: RetentionRepository
    peers: PeerRepository
    answers: AnswerRepository
    fragments: FragmentRepository
    federation_retries: FederationRetryRepository
    federation_rate: PeerRateRepository

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None: ...


class Store(abc.ABC):
    """Opens units of work."""

    @abc.abstractmethod
    def unit_of_work(self, *, write: bool) -> UnitOfWork: ...

    async def write(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run ``work`` in a write unit of work and commit; return its result.

        ``work`` must not commit or roll back, nor call :meth:`write` or open another write
        unit of work (it would wait for its own batch). It may share its transaction with other
        concurrent ``write`` calls (group commit): if it raises, only its own writes are
        undone and the exception comes back here; either way this returns or raises only
        after the transaction holding its writes has committed (or failed). This default
        runs each ``work`` in a transaction of its own.
        """
        async with self.unit_of_work(write=True) as uow:
            result = await work(uow)
            await uow.commit()
            return result

    async def listen_releases(self, on_release: Callable[[str], None], stop: Event) -> None:
        """Call ``on_release(verification_id)`` for each release any process announces,
        until ``stop`` is set. This default hears nothing: a store without notifications
        leaves watchers to re-read it."""
        await stop.wait()

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the database cannot be reached or the audit log cannot be written."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...
