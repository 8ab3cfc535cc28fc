"""Retention on SQLAlchemy: done checks still holding personal data, and its purge.

A purge sets the sealed columns to NULL (the rows stay: their ids, hashes, release
sequence numbers and summaries are what receipts and the audit log point at) and stamps
the check, so a second run finds nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from verifier.domain.outcomes import VerificationState
from verifier.domain.ports.retention import DoneCheck, PurgeKind, RetentionRepository
from verifier.domain.webhooks import DeliveryState
from verifier.storage.guard import guard
from verifier.storage.models import (
    Base,
    JobLeaseRow,
    ReportRow,
    ResultCacheRow,
    SourceOutcomeRow,
    VerificationRow,
)
from verifier.storage.models_federation import FederationAnswerRow, FederationFragmentRow
from verifier.storage.models_webhooks import AttemptRow, DeliveryRow, OutboxEventRow


class SqlRetention(RetentionRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lease(self, job: str, owner: str, now: datetime, until: datetime) -> bool:
        async with guard():
            result = await self._session.execute(
                update(JobLeaseRow)
                .where(
                    JobLeaseRow.name == job,
                    or_(JobLeaseRow.until < now, JobLeaseRow.owner == owner),
                )
                .values(owner=owner, until=until)
            )
        return bool(getattr(result, "rowcount", 0))

    async def held(
        self,
        kind: PurgeKind,
        done_before: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[DoneCheck]:
        v = VerificationRow
        stamp = v.purged_at if kind is PurgeKind.REPORTS else v.records_purged_at
        q = select(v.id, v.case_id, v.region, v.updated_at).where(
            v.state == VerificationState.DONE.value,
            stamp.is_(None),
            v.updated_at < done_before,
        )
        if after is not None:
            q = q.where(tuple_(v.updated_at, v.id) > tuple_(*after))
        q = q.order_by(v.updated_at, v.id).limit(limit)
        async with guard():
            rows = (await self._session.execute(q)).all()
        return [DoneCheck(r.id, r.case_id, r.region, r.updated_at) for r in rows]

    async def purge_reports(self, verification_id: str, now: datetime) -> int:
        async with guard():
            result = await self._session.execute(
                update(ReportRow)
                .where(
                    ReportRow.verification_id == verification_id,
                    ReportRow.envelope_sealed.is_not(None),
                )
                .values(envelope_sealed=None, summary_sealed=None, summary_json=None, purged_at=now)
            )
            await self._session.execute(
                update(VerificationRow)
                .where(VerificationRow.id == verification_id)
                .values(request_sealed=None, purged_at=now)
            )
        return int(getattr(result, "rowcount", 0))

    async def purge_records(self, verification_id: str, now: datetime) -> int:
        o = SourceOutcomeRow
        async with guard():
            result = await self._session.execute(
                update(o)
                .where(
                    o.verification_id == verification_id,
                    or_(o.records_sealed.is_not(None), o.ticket_sealed.is_not(None)),
                )
                .values(records_sealed=None, ticket_sealed=None)
            )
            await self._session.execute(
                update(VerificationRow)
                .where(VerificationRow.id == verification_id)
                .values(records_purged_at=now)
            )
        return int(getattr(result, "rowcount", 0))

    async def purge_cache(self, fetched_before: datetime, limit: int) -> int:
        c = ResultCacheRow
        return await self._delete_oldest(
            c, (c.subject_ref, c.source), c.fetched_at, fetched_before, limit
        )

    async def cache_held(self, fetched_before: datetime) -> int:
        return await self._count(ResultCacheRow, ResultCacheRow.fetched_at < fetched_before)

    @staticmethod
    def _acknowledged(created_before: datetime) -> ColumnElement[bool]:
        e = OutboxEventRow
        waiting = exists().where(
            DeliveryRow.event_id == e.id, DeliveryRow.state != DeliveryState.DELIVERED.value
        )
        return and_(e.dispatched_at.is_not(None), e.created_at < created_before, ~waiting)

    async def purge_webhooks(self, created_before: datetime, limit: int) -> int:
        e = OutboxEventRow
        ids = select(e.id).where(self._acknowledged(created_before)).order_by(e.created_at)
        async with guard():
            chosen = list((await self._session.execute(ids.limit(limit))).scalars())
            if not chosen:
                return 0
            await self._session.execute(delete(AttemptRow).where(AttemptRow.event_id.in_(chosen)))
            await self._session.execute(delete(DeliveryRow).where(DeliveryRow.event_id.in_(chosen)))
            await self._session.execute(delete(e).where(e.id.in_(chosen)))
        return len(chosen)

    async def webhooks_held(self, created_before: datetime) -> int:
        return await self._count(OutboxEventRow, self._acknowledged(created_before))

    async def purge_fragments(self, verification_id: str) -> int:
        f = FederationFragmentRow
        async with guard():
            result = await self._session.execute(
                update(f)
                .where(f.verification_id == verification_id, f.envelope_sealed.is_not(None))
                .values(envelope_sealed=None)
            )
        return int(getattr(result, "rowcount", 0))

    async def purge_answers(self, created_before: datetime, limit: int) -> int:
        a = FederationAnswerRow
        return await self._delete_oldest(
            a, (a.requester, a.request_id), a.created_at, created_before, limit
        )

    async def answers_held(self, created_before: datetime) -> int:
        return await self._count(
            FederationAnswerRow, FederationAnswerRow.created_at < created_before
        )

    async def _delete_oldest(
        self,
        table: type[Base],
        key: tuple[InstrumentedAttribute[str], ...],
        stamp: InstrumentedAttribute[datetime],
        before: datetime,
        limit: int,
    ) -> int:
        """Delete at most ``limit`` rows of ``table`` stamped before ``before``, oldest
        first; how many. The stamp is asked again in the delete: a row written anew
        between the choice and the delete (a fresher answer under the same key) stays."""
        chosen_keys = select(*key).where(stamp < before).order_by(stamp).limit(limit)
        async with guard():
            chosen = [tuple(r) for r in (await self._session.execute(chosen_keys)).all()]
            if not chosen:
                return 0
            await self._session.execute(
                delete(table).where(and_(tuple_(*key).in_(chosen), stamp < before))
            )
        return len(chosen)

    async def _count(self, table: type[Base], where: ColumnElement[bool]) -> int:
        q = select(func.count()).select_from(table).where(where)
        async with guard():
            n = await self._session.execute(q)
        return int(n.scalar_one())
