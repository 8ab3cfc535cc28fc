"""Batches of checks (批量核对): submit, read, watch, cancel.

A submission is checked item by item (:func:`~verifier.domain.batches.check_submission`)
before the caller's role, so a malformed request is INVALID_ARGUMENT whoever sends it
and writes nothing. An accepted batch is stored with every item — accepted items QUEUED
with their validated request sealed, refused items with their index and bad fields —
and its ``batch_submit`` audit entry, in one transaction. The items then run in the
background (:mod:`verifier.service.batch_runner`), each through the same intake as a
single check, at batch priority.

Every read (Get, Watch) is a ``batch_read`` audit entry, a cancel a ``batch_cancel``
entry; a caller whose role may not is refused with one audited denial. A batch belongs
to the calling system that submitted it: to any other it does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from audit.entry import EntryDraft
from verifier.domain.batches import (
    BatchCounts,
    BatchRecord,
    BatchState,
    ItemDraft,
    ItemRefusal,
    check_submission,
)
from verifier.domain.caller import Caller
from verifier.domain.errors import Conflict, FailedPrecondition, NotFound, PermissionDenied
from verifier.domain.ports import Store, UnitOfWork
from verifier.domain.vocabulary import AuditAction, Role
from verifier.domain.webhooks import batch_completed
from verifier.service.audit_trail import actor_of

__all__ = ["BatchNotices", "BatchService", "BatchView", "completed_in"]

log = structlog.get_logger("hedui.batches")

ROLES_THAT_SUBMIT = frozenset({Role.CASEWORKER})
ROLES_THAT_READ = frozenset({Role.CASEWORKER, Role.REVIEWER})
_REFUSED_INDEXES_KEPT = 100


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BatchView:
    record: BatchRecord
    counts: BatchCounts
    refusals: tuple[ItemRefusal, ...]

    @property
    def finished(self) -> bool:
        return self.record.state is not BatchState.RUNNING


@dataclass
class BatchNotices:
    """In-process wake-ups: the runner is told of new batches, watchers of changes to
    theirs. Other replicas' changes are found by reading again (see :meth:`wait`)."""

    submitted: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: dict[str, set[asyncio.Event]] = field(default_factory=dict)

    def changed(self, batch_id: str) -> None:
        for event in self._changed.get(batch_id, ()):
            event.set()

    @contextlib.contextmanager
    def watching(self, batch_id: str) -> Any:
        event = asyncio.Event()
        self._changed.setdefault(batch_id, set()).add(event)
        try:
            yield event
        finally:
            watchers = self._changed.get(batch_id)
            if watchers is not None:
                watchers.discard(event)
                if not watchers:
                    del self._changed[batch_id]


async def completed_in(uow: UnitOfWork, batch_id: str, now: datetime) -> BatchRecord | None:
    """If the batch has nothing left to run, complete it and write its ``batch.completed``
    event, in the caller's unit of work (after the item's own change)."""
    await uow.batches.lock(batch_id)
    done = await uow.batches.complete_if_finished(batch_id, now)
    if done is not None:
        counts = await uow.batches.counts(batch_id)
        await uow.outbox.add(
            batch_completed(batch_id=batch_id, at=now, counts=counts, request_id=done.request_id)
        )
    return done


class BatchService:
    def __init__(
        self,
        store: Store,
        pseudonym_key: bytes,
        *,
        notices: BatchNotices | None = None,
        clock: Callable[[], datetime] = _utcnow,
        recheck_seconds: float = 2.0,
    ) -> None:
        self._store = store
        self._pkey = pseudonym_key
        self.notices = notices or BatchNotices()
        self._clock = clock
        self.recheck_seconds = recheck_seconds
        """How long a watcher waits for this process's news before reading again:
        another replica may be running the batch's items."""

    # ------------------------------------------------------------------ audit
    def _entry(
        self,
        caller: Caller,
        action: AuditAction,
        outcome: str,
        *,
        reason: str = "",
        request_id: str = "",
        details: dict[str, Any] | None = None,
    ) -> EntryDraft:
        return EntryDraft(
            actor=actor_of(caller),
            action=action.value,
            outcome=outcome,
            reason=reason,
            request_id=request_id,
            details=details or {},
        )

    async def _refuse(
        self, caller: Caller, action: AuditAction, may: str, **kw: Any
    ) -> PermissionDenied:
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append(
                [self._entry(caller, action, "deny", reason="ROLE_NOT_ALLOWED", **kw)]
            )
            await uow.commit()
        return PermissionDenied("ROLE_NOT_ALLOWED", f"role {caller.role!r} may not {may}")

    def _digest(self, request_id: str, items: Sequence[ItemDraft]) -> str:
        # Keyed: the items hold ID numbers. The repr of frozen dataclasses of strings,
        # numbers and enums is the same in every process of one release.
        content = repr((request_id, tuple(items))).encode()
        return hmac.new(self._pkey, content, hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ submit
    async def submit(
        self, caller: Caller, request_id: str, items: Sequence[ItemDraft]
    ) -> BatchView:
        """Accept a batch (every item checked; bad ones refused on their own), or answer
        with the batch already accepted for this request id."""
        now = self._clock()
        submission = check_submission(request_id, items, today=now.date())
        if caller.role not in ROLES_THAT_SUBMIT:
            raise await self._refuse(
                caller, AuditAction.BATCH_SUBMIT, "submit batches", request_id=request_id
            )
        digest = self._digest(request_id, items)
        record = BatchRecord(
            id=str(uuid.uuid4()),
            caller_system=caller.system,
            caller_user=caller.user,
            caller_role=caller.role,
            caller_region=caller.region_label(),
            request_id=request_id,
            request_digest=digest,
            state=BatchState.RUNNING,
            item_count=len(submission.items),
            created_at=now,
        )
        refused = [r.index for r in submission.refusals]

        async def accept(uow: UnitOfWork) -> None:
            await uow.batches.add(record, submission.items)
            await uow.audit.append(
                [
                    self._entry(
                        caller,
                        AuditAction.BATCH_SUBMIT,
                        "allow",
                        request_id=request_id,
                        details={
                            "batch_id": record.id,
                            "items": record.item_count,
                            "accepted": submission.accepted,
                            "refused": len(refused),
                            "refused_indexes": refused[:_REFUSED_INDEXES_KEPT],
                        },
                    )
                ]
            )

        try:
            await self._store.write(accept)
        except Conflict:
            async with self._store.unit_of_work(write=False) as uow:
                existing = await uow.batches.find_by_request(caller.system, request_id)
            if existing is None:
                raise
            if not hmac.compare_digest(existing.request_digest, digest):
                raise FailedPrecondition(
                    "request_id was already used for a different batch"
                ) from None
            return await self._view(existing.id)
        log.info(
            "batch_accepted",
            batch_id=record.id,
            items=record.item_count,
            refused=len(refused),
        )
        self.notices.submitted.set()
        return await self._view(record.id)

    # ------------------------------------------------------------------ read
    async def _view(self, batch_id: str) -> BatchView:
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.batches.get(batch_id)
            if record is None:
                raise NotFound("batch not found")
            counts = await uow.batches.counts(batch_id)
            refusals = await uow.batches.refusals(batch_id)
        return BatchView(record, counts, tuple(refusals))

    async def _owned(self, caller: Caller, batch_id: str) -> BatchRecord:
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.batches.get(batch_id)
        # Another system's batch is indistinguishable from none: ids are not an oracle.
        if record is None or record.caller_system != caller.system:
            raise NotFound("batch not found")
        return record

    async def get(self, caller: Caller, batch_id: str, *, watch: bool = False) -> BatchView:
        """The batch now; an audited read (``batch_read``)."""
        if caller.role not in ROLES_THAT_READ:
            raise await self._refuse(
                caller, AuditAction.BATCH_READ, "read batches", details={"batch_id": batch_id}
            )
        record = await self._owned(caller, batch_id)
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append(
                [
                    self._entry(
                        caller,
                        AuditAction.BATCH_READ,
                        "allow",
                        request_id=record.request_id,
                        details={"batch_id": batch_id, "watch": watch},
                    )
                ]
            )
            await uow.commit()
        return await self._view(batch_id)

    async def watch(self, caller: Caller, batch_id: str) -> AsyncIterator[BatchView]:
        """The batch now, then each time its counts or state change, until it finishes.
        One audited read for the whole watch."""
        with self.notices.watching(batch_id) as news:
            view = await self.get(caller, batch_id, watch=True)
            yield view
            while not view.finished:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(news.wait(), self.recheck_seconds)
                news.clear()
                latest = await self._view(batch_id)
                if (latest.record.state, latest.counts) != (view.record.state, view.counts):
                    view = latest
                    yield view

    # ------------------------------------------------------------------ cancel
    async def cancel(self, caller: Caller, batch_id: str) -> tuple[BatchView, int]:
        """Cancel the items not started yet; the running ones finish. Returns the batch and
        how many items this call cancelled."""
        if caller.role not in ROLES_THAT_SUBMIT:
            raise await self._refuse(
                caller, AuditAction.BATCH_CANCEL, "cancel batches", details={"batch_id": batch_id}
            )
        record = await self._owned(caller, batch_id)
        now = self._clock()

        async def cancel(uow: UnitOfWork) -> int:
            locked = await uow.batches.lock(batch_id)
            cancelled = 0
            if locked is not None and locked.state is BatchState.RUNNING:
                cancelled = await uow.batches.cancel(batch_id, now)
                await completed_in(uow, batch_id, now)
            await uow.audit.append(
                [
                    self._entry(
                        caller,
                        AuditAction.BATCH_CANCEL,
                        "allow",
                        request_id=record.request_id,
                        details={"batch_id": batch_id, "cancelled": cancelled},
                    )
                ]
            )
            return cancelled

        cancelled = await self._store.write(cancel)
        self.notices.changed(batch_id)
        log.info("batch_cancelled", batch_id=batch_id, items=cancelled)
        return await self._view(batch_id), cancelled
