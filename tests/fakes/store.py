"""An in-memory :class:`Store`: the ports' contract without a database, for unit tests.

Write units of work run one at a time (like SQLite's writer lock) on a copy of the
tables, which the store takes only on commit: a unit that raises or is not committed
leaves nothing behind. Read units work on a snapshot. :meth:`Store.write` is the port's
default (one transaction per work), which keeps its contract without group commit.
Releases announced in a committed unit are told to every :meth:`listen_releases`
listener, as PostgreSQL's NOTIFY tells every server process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from tests.fakes.batches import InMemoryBatches, InMemoryTerms
from tests.fakes.federation import (
    InMemoryAnswers,
    InMemoryFederationRetries,
    InMemoryFragments,
    InMemoryPeerRate,
    InMemoryPeers,
)
from tests.fakes.monitoring import InMemoryAlerts, InMemoryChanges
from tests.fakes.outbox import InMemoryDeliveries, InMemoryOutbox
from tests.fakes.repositories import (
    InMemoryAudit,
    InMemoryCache,
    InMemoryConsents,
    InMemoryOutcomes,
    InMemoryPolls,
    InMemoryReports,
    InMemoryVerifications,
)
from tests.fakes.retention import InMemoryRetention
from tests.fakes.roster import InMemoryRechecks, InMemoryRoster
from tests.fakes.tables import Tables
from verifier.domain.errors import Unavailable
from verifier.domain.ports import Store, UnitOfWork


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, store: InMemoryStore, *, write: bool) -> None:
        self._store = store
        self._write = write
        self._locked = False
        self._tables: Tables | None = None

    def _begin(self) -> None:
        t = self._tables = self._store.tables.copy()
        self.verifications = InMemoryVerifications(t)
        self.outcomes = InMemoryOutcomes(t)
        self.polls = InMemoryPolls(t)
        self.reports = InMemoryReports(t)
        self.consents = InMemoryConsents(t)
        self.audit = InMemoryAudit(t, self._store.clock, lambda: self._store.audit_unavailable)
        self.cache = InMemoryCache(t)
        self.batches = InMemoryBatches(t.batches)
        self.terms = InMemoryTerms(t)
        self.outbox = InMemoryOutbox(t.webhooks)
        self.deliveries = InMemoryDeliveries(t.webhooks)
        self.alerts = InMemoryAlerts(t.monitoring, self.audit, self.outbox)
        self.changes = InMemoryChanges(t.monitoring)
        self.roster = InMemoryRoster(t)
        self.rechecks = InMemoryRechecks(t)
        self.retention = InMemoryRetention(t)
        self.peers = InMemoryPeers(t)
        self.answers = InMemoryAnswers(t)
        self.fragments = InMemoryFragments(t)
        self.federation_retries = InMemoryFederationRetries(t)
        self.federation_rate = InMemoryPeerRate(t)

    async def __aenter__(self) -> InMemoryUnitOfWork:
        if self._write:
            await self._store.write_lock.acquire()
            self._locked = True
        self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tables = None
        if self._locked:
            self._store.write_lock.release()
            self._locked = False

    async def commit(self) -> None:
        if self._tables is None:
            raise RuntimeError("unit of work used outside `async with`")
        if not self._write:
            return
        self._store.commit(self._tables)
        self._begin()

    async def rollback(self) -> None:
        if self._tables is None:
            raise RuntimeError("unit of work used outside `async with`")
        self._begin()


class InMemoryStore(Store):
    """The tables, a writer lock, and switches for tests: ``audit_unavailable`` makes
    every audit append (and :meth:`ping`) fail as a database outage would."""

    def __init__(self, clock: Callable[[], datetime] = _utcnow) -> None:
        self.tables = Tables()
        self.clock = clock
        self.write_lock = asyncio.Lock()
        self.audit_unavailable = False
        self.commits = 0
        self.closed = False
        self._listeners: set[Callable[[str], None]] = set()

    def unit_of_work(self, *, write: bool) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self, write=write)

    def commit(self, tables: Tables) -> None:
        announced = tables.announced[len(self.tables.announced) :]
        self.tables = tables
        self.commits += 1
        for vid in announced:
            for tell in list(self._listeners):
                tell(vid)

    async def listen_releases(self, on_release: Callable[[str], None], stop: asyncio.Event) -> None:
        self._listeners.add(on_release)
        try:
            await stop.wait()
        finally:
            self._listeners.discard(on_release)

    async def ping(self) -> None:
        if self.audit_unavailable:
            raise Unavailable("database unavailable (AuditUnavailable)")

    async def aclose(self) -> None:
        self.closed = True

    # ------------------------------------------------------------------ for assertions
    def entries(self) -> list[dict[str, Any]]:
        """The audit log's entry bodies, in seq order (what the SQL tests read back)."""
        return [row.body for row in self.tables.audit]
