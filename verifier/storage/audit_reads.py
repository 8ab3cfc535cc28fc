"""The audit log as auditors read it, on SQLAlchemy: queries, exports, proofs, receipts,
and the checkpointer behind the checkpoints port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit import export, proofs
from audit.checkpoint import StoredCheckpoint
from audit.checkpointer import Checkpointer, CheckpointRefused
from audit.entry import format_ts
from audit.proofs import MissingNode
from audit.schema import AuditEntryRow, AuditSubjectRow
from verifier.domain.errors import FailedPrecondition
from verifier.domain.ports import AuditCheckpoints, AuditReader, EntryQuery, EntryView
from verifier.storage.engine import Database
from verifier.storage.guard import DRIVER_ERRORS, unavailable
from verifier.storage.models import ReportRow


def write_sessions(
    db: Database,
) -> Callable[[], contextlib.AbstractAsyncContextManager[AsyncSession]]:
    """Write sessions that queue on this process's SQLite writer lock like the unit of
    work (the checkpointer takes the audit head lock in them)."""

    @asynccontextmanager
    async def open_session() -> AsyncIterator[AsyncSession]:
        async with contextlib.AsyncExitStack() as stack:
            if db.sqlite:
                await stack.enter_async_context(db.write_lock)
            yield await stack.enter_async_context(db.write_sessions())

    return open_session


@asynccontextmanager
async def audit_guard() -> AsyncIterator[None]:
    """Database failures and a damaged tree or checkpoint, as domain errors."""
    try:
        yield
    except DRIVER_ERRORS as exc:
        refused = unavailable(exc)
        if refused is None:
            raise
        raise refused from None
    except MissingNode:
        raise FailedPrecondition("the audit tree is damaged; run `hedui audit verify`") from None
    except CheckpointRefused:
        raise FailedPrecondition(
            "the audit log does not extend its latest checkpoint; run `hedui audit verify`"
        ) from None


class SqlAuditReader(AuditReader):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def entries(self, query: EntryQuery) -> list[EntryView]:
        q = select(AuditEntryRow.seq, AuditEntryRow.body, AuditEntryRow.leaf_hash).where(
            AuditEntryRow.seq > query.after_seq
        )
        if query.subject_ref:
            q = q.join(AuditSubjectRow, AuditSubjectRow.seq == AuditEntryRow.seq).where(
                AuditSubjectRow.subject_ref == query.subject_ref
            )
        for column, value in (
            (AuditEntryRow.actor_system, query.actor_system),
            (AuditEntryRow.actor_user, query.actor_user),
            (AuditEntryRow.case_id, query.case_id),
            (AuditEntryRow.verification_id, query.verification_id),
            (AuditEntryRow.action, query.action),
        ):
            if value:
                q = q.where(column == value)
        # ts is RFC 3339 UTC with fixed-width microseconds, so text order is time order.
        if query.since is not None:
            q = q.where(AuditEntryRow.ts >= format_ts(query.since))
        if query.until is not None:
            q = q.where(AuditEntryRow.ts < format_ts(query.until))
        q = q.order_by(AuditEntryRow.seq).limit(query.limit)
        async with audit_guard(), self._db.read_sessions() as session:
            rows = (await session.execute(q)).all()
        return [EntryView(int(r.seq), bytes(r.body), bytes(r.leaf_hash)) for r in rows]

    async def entry(self, seq: int) -> EntryView | None:
        async with audit_guard(), self._db.read_sessions() as session:
            row = (
                await session.execute(
                    select(AuditEntryRow.body, AuditEntryRow.leaf_hash).where(
                        AuditEntryRow.seq == seq
                    )
                )
            ).one_or_none()
        return None if row is None else EntryView(seq, bytes(row.body), bytes(row.leaf_hash))

    async def export_lines(
        self, start: int, end: int, checkpoint: StoredCheckpoint, verifier_key: str
    ) -> AsyncIterator[bytes]:
        async with audit_guard(), self._db.read_sessions() as session:
            async for line in export.export_lines(session, start, end, checkpoint, verifier_key):
                yield line

    async def inclusion_proof(self, seq: int, tree_size: int) -> list[bytes]:
        async with audit_guard(), self._db.read_sessions() as session:
            return await proofs.inclusion_proof(session, seq, tree_size)

    async def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        async with audit_guard(), self._db.read_sessions() as session:
            return await proofs.consistency_proof(session, old_size, new_size)

    async def root_at(self, size: int) -> bytes:
        async with audit_guard(), self._db.read_sessions() as session:
            return await proofs.root_at(session, size)

    async def release_seq(self, verification_id: str, version: int) -> int | None:
        q = select(ReportRow.release_seq).where(ReportRow.verification_id == verification_id)
        q = (
            q.where(ReportRow.version == version)
            if version
            else q.order_by(ReportRow.version.desc()).limit(1)
        )
        async with audit_guard(), self._db.read_sessions() as session:
            seq = (await session.execute(q)).scalars().first()
        return None if seq is None else int(seq)

    async def receipt(
        self, seq: int, checkpoint: StoredCheckpoint, verifier_key: str
    ) -> dict[str, Any]:
        async with audit_guard(), self._db.read_sessions() as session:
            return await export.receipt_for(session, seq, checkpoint, verifier_key)

    async def size(self) -> int:
        async with audit_guard(), self._db.read_sessions() as session:
            return await proofs.tree_size(session)


class SqlCheckpoints(AuditCheckpoints):
    """The checkpoints port over :class:`audit.checkpointer.Checkpointer`."""

    def __init__(self, checkpointer: Checkpointer) -> None:
        self._checkpointer = checkpointer

    @property
    def verifier_key(self) -> str:
        return self._checkpointer.signer.verifier_key

    @property
    def verifier_keys(self) -> list[str]:
        return self._checkpointer.verifier_keys

    async def checkpoint(self) -> StoredCheckpoint:
        async with audit_guard():
            return await self._checkpointer.checkpoint()

    async def latest(self) -> StoredCheckpoint | None:
        async with audit_guard():
            return await self._checkpointer.latest()

    async def history(self, limit: int) -> list[StoredCheckpoint]:
        async with audit_guard():
            return await self._checkpointer.history(limit)

    async def covering(self, size: int) -> StoredCheckpoint:
        async with audit_guard():
            return await self._checkpointer.covering(size)

    async def run(self, stop: asyncio.Event) -> None:
        await self._checkpointer.run(stop)
