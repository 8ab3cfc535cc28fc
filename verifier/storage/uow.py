"""The SQL unit of work: one transaction, and the repositories that work inside it.

:class:`SqlStore` opens units of work and group-commits :meth:`SqlStore.write`: the work
of concurrent requests shares one transaction (one audit head lock, one flush), each in
a SAVEPOINT of its own (see :mod:`audit.group_commit`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar, cast

from opentelemetry import context as trace_context
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from audit.group_commit import GroupCommitter
from audit.log import AuditLog
from verifier.domain.ports import Store, UnitOfWork
from verifier.domain.ports.telemetry import StoreMetrics
from verifier.storage.alerts import SqlAlerts
from verifier.storage.answers import SqlAnswers
from verifier.storage.audit_log import SqlAudit
from verifier.storage.batches import SqlBatches
from verifier.storage.cache import SqlCache
from verifier.storage.changes import SqlChanges
from verifier.storage.consents import SqlConsents
from verifier.storage.deliveries import SqlDeliveries
from verifier.storage.engine import Database
from verifier.storage.federation_rate import SqlPeerRate
from verifier.storage.federation_retries import SqlFederationRetries
from verifier.storage.fragments import SqlFragments
from verifier.storage.guard import guard, unavailable
from verifier.storage.heartbeat import probe_writes
from verifier.storage.notify import listen
from verifier.storage.outbox import SqlOutbox
from verifier.storage.outcomes import SqlOutcomes
from verifier.storage.peers import SqlPeers
from verifier.storage.polls import SqlPolls
from verifier.storage.rechecks import SqlRechecks
from verifier.storage.reports import SharedBases, SqlReports
from verifier.storage.retention import SqlRetention
from verifier.storage.roster import SqlRoster
from verifier.storage.sealing import Sealer
from verifier.storage.terms import SqlTerms
from verifier.storage.verifications import SqlVerifications

T = TypeVar("T")


class SqlUnitOfWork(UnitOfWork):
    """A unit of work over its own session, or (``shared``) over a session another
    component opened and will commit: the group committer's batch transaction."""

    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        audit_log: AuditLog,
        *,
        write: bool,
        shared: AsyncSession | None = None,
        bases: SharedBases | None = None,
    ) -> None:
        self._db = db
        self._bases = bases or SharedBases()
        self._sealer = sealer
        self._audit = audit_log
        self._write = write
        self._session: AsyncSession | None = None
        self._shared = shared is not None
        self._locked = False
        if shared is not None:
            self._bind(shared)

    def _bind(self, session: AsyncSession) -> None:
        self._session = session
        self.verifications = SqlVerifications(session, self._sealer)
        self.outcomes = SqlOutcomes(session, self._sealer)
        self.polls = SqlPolls(session, self._sealer)
        self.reports = SqlReports(
            session, self._sealer, self._bases, committed_reads=not self._write
        )
        self.consents = SqlConsents(session, self._sealer)
        self.audit = SqlAudit(session, self._audit)
        self.cache = SqlCache(session, self._sealer)
        self.batches = SqlBatches(session, self._sealer)
        self.terms = SqlTerms(session)
        self.outbox = SqlOutbox(session)
        self.deliveries = SqlDeliveries(session)
        self.alerts = SqlAlerts(session, self._sealer, self.audit, self.outbox)
        self.changes = SqlChanges(session)
        self.roster = SqlRoster(session, self._sealer)
        self.rechecks = SqlRechecks(session)
        self.retention = SqlRetention(session)
        self.peers = SqlPeers(session)
        self.answers = SqlAnswers(session, self._sealer)
        self.fragments = SqlFragments(session, self._sealer)
        self.federation_retries = SqlFederationRetries(session)
        self.federation_rate = SqlPeerRate(session)

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._shared:
            raise RuntimeError("a shared unit of work is not entered: its owner commits")
        if self._write and self._db.sqlite:
            await self._db.write_lock.acquire()
            self._locked = True
        factory = self._db.write_sessions if self._write else self._db.read_sessions
        self._bind(factory())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._session is not None:
                try:
                    await self._session.rollback()
                finally:
                    await self._session.close()
        except (OperationalError, DBAPIError):
            # The connection is gone; the transaction died with it. Nothing to undo.
            pass
        finally:
            self._session = None
            if self._locked:
                self._db.write_lock.release()
                self._locked = False
        if exc is not None:
            # A driver failure that escaped the repositories' guards (a read, a flush) is
            # an outage like any other: the caller is told UNAVAILABLE, never INTERNAL.
            refused = unavailable(exc)
            if refused is not None:
                raise refused from None

    async def commit(self) -> None:
        if self._shared:
            raise RuntimeError("work in a shared transaction must not commit")
        async with guard():
            await self.session.commit()

    async def rollback(self) -> None:
        if self._shared:
            raise RuntimeError("work in a shared transaction must not roll back; raise")
        await self.session.rollback()


class SqlStore(Store):
    """Units of work over ``db``; :meth:`write` goes through a group committer, so the
    writes of concurrent requests share transactions (one head lock, one flush)."""

    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        audit_log: AuditLog | None = None,
        metrics: StoreMetrics | None = None,
    ) -> None:
        self.db = db
        self._sealer = sealer
        self._audit = audit_log or AuditLog()
        self._committer: GroupCommitter | None = None
        self._metrics = metrics or StoreMetrics()
        self._bases = SharedBases()

    def unit_of_work(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, self._sealer, self._audit, write=write, bases=self._bases)

    async def write(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        if self._committer is None:
            self._committer = GroupCommitter(
                self.db.write_sessions,
                audit_log=self._audit,
                write_lock=self.db.write_lock if self.db.sqlite else None,
                on_batch=self._metrics.batch_committed,
            )

        # The work runs in the committer's task: in the caller's trace, not the one of
        # whichever request started that task.
        caller_trace = trace_context.get_current()

        async def in_batch(session: AsyncSession) -> T:
            token = trace_context.attach(caller_trace)
            try:
                uow = SqlUnitOfWork(
                    self.db,
                    self._sealer,
                    self._audit,
                    write=True,
                    shared=session,
                    bases=self._bases,
                )
                return await work(uow)
            finally:
                trace_context.detach(token)

        began = time.perf_counter()
        async with guard():
            _entries, result = await self._committer.submit((), in_batch)
        self._metrics.write_finished(time.perf_counter() - began)
        return cast(T, result)

    async def listen_releases(self, on_release: Callable[[str], None], stop: asyncio.Event) -> None:
        if self.db.sqlite:
            await super().listen_releases(on_release, stop)
        else:
            await listen(self.db.url, on_release, stop)

    async def ping(self) -> None:
        """Succeeds only if an audit append could be written now: takes the head lock
        and commits a heartbeat. A rolled-back probe would pass on a full disk or a
        read-only file; a commit fails exactly when an append's commit would."""
        await probe_writes(self.db)

    async def aclose(self) -> None:
        if self._committer is not None:
            await self._committer.aclose()
        await self.db.dispose()
