"""Verification terms (urgency, due date, batch) on SQLAlchemy, and the searches that use
them: ListVerifications' pages and the overdue scan."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, not_, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.outcomes import VerificationState
from verifier.domain.ports.terms import (
    CheckOrigin,
    ListedVerification,
    TermsRepository,
    VerificationQuery,
    VerificationTerms,
)
from verifier.domain.ports.verifications import VerificationRecord
from verifier.storage.guard import guard
from verifier.storage.insert_new import insert_row
from verifier.storage.models import VerificationRow
from verifier.storage.models_batches import VerificationTermsRow
from verifier.storage.verifications import RECORD_COLUMNS, verification_record

_DONE = VerificationState.DONE.value


def _terms(row: VerificationTermsRow) -> VerificationTerms:
    return VerificationTerms(
        verification_id=row.verification_id,
        urgent=row.urgent,
        due_date=row.due_date,
        due_at=row.due_at,
        batch_id=row.batch_id,
        overdue_flagged_at=row.overdue_flagged_at,
        origin=CheckOrigin(row.origin),
    )


def _overdue(now: datetime) -> Any:
    return and_(
        VerificationTermsRow.due_at.is_not(None),
        VerificationTermsRow.due_at < now,
        VerificationRow.state != _DONE,
    )


def _prefix_of(region: str) -> Any:
    # Region codes are six ASCII digits and prefixes are validated digits: no LIKE
    # wildcard can come in through them.
    return VerificationRow.region.startswith(region, autoescape=True)


class SqlTerms(TermsRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, terms: VerificationTerms) -> None:
        async with guard():
            await insert_row(
                self._session,
                VerificationTermsRow,
                {
                    "verification_id": terms.verification_id,
                    "urgent": terms.urgent,
                    "due_date": terms.due_date,
                    "due_at": terms.due_at,
                    "batch_id": terms.batch_id,
                    "overdue_flagged_at": terms.overdue_flagged_at,
                    "origin": terms.origin.value,
                },
            )

    async def get(self, verification_id: str) -> VerificationTerms | None:
        async with guard():
            row = await self._session.get(VerificationTermsRow, verification_id)
        return _terms(row) if row else None

    async def search(self, query: VerificationQuery) -> list[ListedVerification]:
        # The record's columns, not the row: a page of rows would carry each sealed request.
        q = (
            select(*RECORD_COLUMNS, VerificationTermsRow)
            .outerjoin(
                VerificationTermsRow,
                VerificationTermsRow.verification_id == VerificationRow.id,
            )
            .where(
                VerificationRow.caller_system == query.caller_system,
                or_(*(_prefix_of(r) for r in query.regions)) if query.regions else false(),
            )
        )
        if query.region_prefix:
            q = q.where(_prefix_of(query.region_prefix))
        if query.case_id:
            q = q.where(VerificationRow.case_id == query.case_id)
        if query.state is not None:
            q = q.where(VerificationRow.state == query.state.value)
        if query.created_from is not None:
            q = q.where(VerificationRow.created_at >= query.created_from)
        if query.created_before is not None:
            q = q.where(VerificationRow.created_at < query.created_before)
        if query.overdue is not None:
            overdue = _overdue(query.now)
            q = q.where(overdue if query.overdue else not_(overdue))
        if query.urgent is not None:
            urgent = VerificationTermsRow.urgent.is_(true())
            not_urgent = or_(VerificationTermsRow.urgent.is_(None), not_(urgent))
            q = q.where(urgent if query.urgent else not_urgent)
        if query.batch_id:
            q = q.where(VerificationTermsRow.batch_id == query.batch_id)
        if query.after is not None:
            at, vid = query.after
            q = q.where(
                or_(
                    VerificationRow.created_at < at,
                    and_(VerificationRow.created_at == at, VerificationRow.id < vid),
                )
            )
        q = q.order_by(VerificationRow.created_at.desc(), VerificationRow.id.desc()).limit(
            query.limit
        )
        async with guard():
            rows = (await self._session.execute(q)).all()
        return [
            ListedVerification(
                verification_record(r),
                _terms(r.VerificationTermsRow) if r.VerificationTermsRow is not None else None,
            )
            for r in rows
        ]

    async def overdue_unflagged(
        self, now: datetime, limit: int
    ) -> list[tuple[VerificationRecord, VerificationTerms]]:
        q = (
            select(*RECORD_COLUMNS, VerificationTermsRow)
            .join(VerificationTermsRow, VerificationTermsRow.verification_id == VerificationRow.id)
            .where(VerificationTermsRow.overdue_flagged_at.is_(None), _overdue(now))
            .order_by(VerificationTermsRow.due_at)
            .limit(limit)
        )
        async with guard():
            rows = (await self._session.execute(q)).all()
        return [(verification_record(r), _terms(r.VerificationTermsRow)) for r in rows]

    async def flag_overdue(self, verification_id: str, now: datetime) -> bool:
        async with guard():
            result = await self._session.execute(
                update(VerificationTermsRow)
                .where(
                    VerificationTermsRow.verification_id == verification_id,
                    VerificationTermsRow.overdue_flagged_at.is_(None),
                )
                .values(overdue_flagged_at=now)
            )
        return bool(getattr(result, "rowcount", 0))
