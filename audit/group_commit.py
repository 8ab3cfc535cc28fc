"""Group commit: many concurrent audit appends, one transaction, one fsync.

Every append takes the ``audit_head`` row lock and commits; under load the lock turns
the log into a queue of one-entry transactions, each paying a round trip and a flush.
:class:`GroupCommitter` gathers the units that arrive while a transaction is being
built or committed into the next transaction:

* a unit is ``(drafts, work)``; ``work(session)`` (optional) runs inside a SAVEPOINT of
  the shared transaction before the unit's entries are appended (and may append entries
  of its own through the session), so a unit whose work raises is rolled back alone and
  its caller gets the exception once the batch is over, while the others go on;
* the drafts of all surviving units go to :meth:`AuditLog.append` in one call, in
  arrival order, so ``seq`` stays gapless and ordered;
* a caller's ``await`` returns only after the transaction holding its entries has
  COMMITTED: nothing is acknowledged before it is durable. If the append or the commit
  fails, the whole transaction rolls back and every caller in the batch gets
  :class:`GroupCommitFailed` (an :class:`AuditUnavailable`, so requests fail closed),
  with the database error as its ``__cause__``.

Batching is event-driven: a runner task starts with the first unit, lets the event loop
turn while that brings more units, up to ``max_batch`` units and at most
``max_wait`` seconds after the first. Units that queued while the previous transaction
was committing go at once, so under load the batch size follows the commit latency,
not a timer. The runner returns when the queue is empty: an idle committer holds no task.

One transaction is in flight per committer; on PostgreSQL several processes (replicas)
each run their own committer and the head row lock orders their batches. On SQLite pass
the engine's write lock so that group commits and other writers of the process queue on
the same lock.

``work`` shares the batch's session: it must not commit, roll back or close it, and it
should not keep the session busy for long (every unit in the batch waits for it). A
caller cancelled while its unit is still queued is dropped; once its batch has started,
its entries commit with the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    InternalError,
    OperationalError,
    PendingRollbackError,
    ResourceClosedError,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.entry import AppendedEntry, EntryDraft
from audit.log import AuditLog, AuditUnavailable

__all__ = ["GroupCommitFailed", "GroupCommitter", "GroupCommitterClosed"]

T = TypeVar("T")

Work = Callable[[AsyncSession], Awaitable[Any]]


# Failures of the database rather than of a unit's own work.
OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    InternalError,
    PendingRollbackError,
    ResourceClosedError,
    AuditUnavailable,
)


def _outage(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from or while handling, is the
    database's failure (a unit's repositories turn driver errors into their own)."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, OUTAGES):
            return True
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return True
        link = link.__cause__ or link.__context__
    return False


def _usable(session: AsyncSession) -> bool:
    """Whether the batch's transaction can still run statements after a unit failed."""
    tx = session.get_transaction()
    return tx is not None and tx.is_active


class GroupCommitFailed(AuditUnavailable):
    """The batch transaction holding this caller's entries did not commit; nothing of it
    was written. The database error is ``__cause__``."""


class GroupCommitterClosed(AuditUnavailable):
    """:meth:`GroupCommitter.submit` after :meth:`GroupCommitter.aclose`."""


@dataclass(slots=True)
class _Unit:
    drafts: Sequence[EntryDraft]
    work: Work | None
    future: asyncio.Future[tuple[list[AppendedEntry], Any]]
    arrived: float
    result: Any = None
    error: Exception | None = None
    entries: list[AppendedEntry] = field(default_factory=list)


class GroupCommitter:
    """Gathers concurrent :meth:`submit` calls into shared audit-append transactions.

    ``sessions`` opens write sessions (on SQLite, from the engine whose ``begin`` takes
    ``BEGIN IMMEDIATE``); ``write_lock`` is held around each transaction when given.
    ``on_batch(units, entries)`` (optional) is told the size of every committed batch.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        audit_log: AuditLog | None = None,
        write_lock: asyncio.Lock | None = None,
        max_batch: int = 512,
        max_wait: float = 0.002,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_wait < 0:
            raise ValueError("max_wait must not be negative")
        self._sessions = sessions
        self._log = audit_log or AuditLog()
        self._write_lock = write_lock
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._on_batch = on_batch
        self._pending: list[_Unit] = []
        self._runner: asyncio.Task[None] | None = None
        self._closing = False

    async def __aenter__(self) -> GroupCommitter:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def submit(
        self,
        drafts: Sequence[EntryDraft],
        work: Callable[[AsyncSession], Awaitable[T]] | None = None,
    ) -> tuple[list[AppendedEntry], T | None]:
        """Append ``drafts`` (after running ``work`` in a savepoint) and wait for the commit.

        Returns the appended entries, in order, and ``work``'s result (None without
        work). Raises what ``work`` raised (nothing of this unit is written), or
        :class:`GroupCommitFailed` when the batch did not commit.
        """
        if self._closing:
            raise GroupCommitterClosed("the audit group committer is closed")
        loop = asyncio.get_running_loop()
        unit = _Unit(tuple(drafts), work, loop.create_future(), loop.time())
        self._pending.append(unit)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="audit-group-commit")
        entries, result = await unit.future
        return entries, result

    async def aclose(self) -> None:
        """Commit what is queued, then stop the runner. Idempotent."""
        self._closing = True
        runner = self._runner
        if runner is not None:
            await runner
            self._runner = None

    async def _run(self) -> None:
        # The runner lives while there is work: it returns when the queue is empty and
        # the next submit starts another, so an idle committer holds no task.
        loop = asyncio.get_running_loop()
        while self._pending:
            # Wait for company: until max_batch are queued, max_wait after the first, or
            # the queue is settled (a turn of the event loop brought no new unit). A
            # timer alone would idle through every batch once all callers are queued.
            deadline = self._pending[0].arrived + self._max_wait
            while len(self._pending) < self._max_batch and not self._closing:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                queued = len(self._pending)
                await asyncio.sleep(0)
                if len(self._pending) == queued:
                    break
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            batch = [u for u in batch if not u.future.done()]  # callers cancelled meanwhile
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[_Unit]) -> None:
        lock = self._write_lock
        try:
            if lock is not None:
                async with lock:
                    ok = await self._transaction(batch)
            else:
                ok = await self._transaction(batch)
        except BaseException as exc:
            for unit in batch:
                if not unit.future.done():
                    # The type only: a driver's message can quote a statement's values.
                    failed = unit.error or GroupCommitFailed(
                        f"the audit batch transaction failed ({type(exc).__name__})"
                    )
                    if unit.error is None:
                        failed.__cause__ = exc
                    unit.future.set_exception(failed)
            if not isinstance(exc, Exception):
                raise
            return
        if self._on_batch is not None:
            self._on_batch(len(ok), sum(len(u.entries) for u in ok))
        # Failures too are told only now: a caller that reacts to its own failure by
        # reading what another unit of the batch wrote (a duplicate request looking up
        # the original) must find it committed.
        for unit in batch:
            if unit.future.done():
                continue
            if unit.error is not None:
                unit.future.set_exception(unit.error)
            else:
                unit.future.set_result((unit.entries, unit.result))

    async def _transaction(self, batch: list[_Unit]) -> list[_Unit]:
        """One transaction for the batch; returns the units it committed.

        Each unit's work runs in a SAVEPOINT, so a unit whose work raises is rolled back
        alone (its ``error`` is kept for :meth:`_commit` to deliver). A batch of one
        needs no savepoint: its work failing rolls the whole transaction back.
        """
        ok: list[_Unit] = []
        async with self._sessions() as session:
            try:
                if any(unit.work is not None for unit in batch):
                    # The head first, before any unit locks rows of its own: a unit that
                    # appended holds the head while a later one waits for a row, and
                    # another replica's batch holding that row and waiting for the head
                    # would deadlock with this one.
                    await self._log.lock_head(session)
                for unit in batch:
                    if unit.work is not None:
                        try:
                            if len(batch) == 1:
                                unit.result = await unit.work(session)
                            else:
                                async with session.begin_nested():
                                    unit.result = await unit.work(session)
                        except Exception as exc:  # the unit's own failure: it alone rolls back
                            unit.error = exc
                            if _outage(exc) or not _usable(session):
                                # Not the unit's fault: the connection died or the
                                # transaction can no longer go on. The next unit would
                                # get PendingRollbackError; the batch fails as a whole.
                                raise
                            if len(batch) == 1:
                                await session.rollback()
                                return []
                            continue
                    ok.append(unit)
                drafts = [d for unit in ok for d in unit.drafts]
                appended = await self._log.append(session, drafts)
                at = 0
                for unit in ok:
                    unit.entries = appended[at : at + len(unit.drafts)]
                    at += len(unit.drafts)
                await session.commit()
            except BaseException:
                with contextlib.suppress(Exception):
                    await session.rollback()
                raise
        return ok
