"""Change detection on SQLAlchemy: household checks, comparisons still to make, and the
signed change documents (stored as they are: they hold no raw personal data)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.ports.changes import (
    ChangeQuery,
    ChangeRepository,
    HouseholdCheck,
    PendingComparison,
    StoredChanges,
)
from verifier.storage.guard import guard
from verifier.storage.insert_new import insert_new, insert_row
from verifier.storage.models_alerts import (
    ChangeComparisonRow,
    ChangeDocumentRow,
    HouseholdCheckRow,
)

PENDING = "pending"
DONE = "done"


def _check(row: HouseholdCheckRow) -> HouseholdCheck:
    return HouseholdCheck(
        verification_id=row.verification_id,
        region=row.region,
        household_ref=row.household_ref,
        member_refs=tuple(r for r in row.member_refs.split(",") if r),
        created_at=row.created_at,
        roster_ref=row.roster_ref,
    )


def _changes(row: ChangeDocumentRow) -> StoredChanges:
    return StoredChanges(
        verification_id=row.verification_id,
        version=row.version,
        region=row.region,
        household_ref=row.household_ref,
        previous_verification_id=row.previous_verification_id,
        previous_version=row.previous_version,
        previous_report_id=row.previous_report_id,
        previous_sha256=row.previous_sha256,
        current_report_id=row.current_report_id,
        current_sha256=row.current_sha256,
        envelope=row.envelope,
        envelope_sha256=row.envelope_sha256,
        key_id=row.key_id,
        codes=tuple(c for c in row.codes.split(",") if c),
        household_figures_compared=row.household_figures_compared,
        withheld=row.withheld,
        created_at=row.created_at,
        record_seq=row.record_seq,
    )


class SqlChanges(ChangeRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def note_release(self, check: HouseholdCheck, version: int, now: datetime) -> None:
        async with guard():
            await insert_new(
                self._session,
                HouseholdCheckRow,
                {
                    "verification_id": check.verification_id,
                    "region": check.region,
                    "household_ref": check.household_ref,
                    "member_refs": ",".join(check.member_refs),
                    "created_at": check.created_at,
                    "roster_ref": check.roster_ref,
                },
            )
            await insert_new(
                self._session,
                ChangeComparisonRow,
                {
                    "verification_id": check.verification_id,
                    "version": version,
                    "state": PENDING,
                    "outcome": "",
                    "attempts": 0,
                    "due_at": now,
                    "reason": "",
                    "created_at": now,
                    "finished_at": None,
                },
            )

    async def has_pending(self, now: datetime) -> bool:
        q = select(ChangeComparisonRow.verification_id).where(
            ChangeComparisonRow.state == PENDING, ChangeComparisonRow.due_at <= now
        )
        async with guard():
            return (await self._session.execute(q.limit(1))).first() is not None

    async def pending(
        self, now: datetime, limit: int, *, only: tuple[str, int] | None = None
    ) -> list[PendingComparison]:
        q = select(ChangeComparisonRow).where(
            ChangeComparisonRow.state == PENDING, ChangeComparisonRow.due_at <= now
        )
        if only is not None:
            q = q.where(
                ChangeComparisonRow.verification_id == only[0],
                ChangeComparisonRow.version == only[1],
            )
        q = (
            q.order_by(ChangeComparisonRow.due_at, ChangeComparisonRow.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with guard():
            return [
                PendingComparison(r.verification_id, r.version, r.attempts)
                for r in (await self._session.execute(q)).scalars()
            ]

    async def _row(self, verification_id: str, version: int) -> ChangeComparisonRow:
        row = await self._session.get(ChangeComparisonRow, (verification_id, version))
        if row is None:
            raise KeyError((verification_id, version))
        return row

    async def finish(self, verification_id: str, version: int, outcome: str, now: datetime) -> None:
        # One UPDATE: the row the claim read is not kept by the session, so an ORM load
        # here would read it again.
        c = ChangeComparisonRow
        q = (
            update(c)
            .where(c.verification_id == verification_id, c.version == version)
            .values(state=DONE, outcome=outcome, finished_at=now)
            .returning(c.version)
        )
        async with guard():
            if (await self._session.execute(q)).first() is None:
                raise KeyError((verification_id, version))

    async def retry_later(
        self, verification_id: str, version: int, at: datetime, reason: str
    ) -> None:
        async with guard():
            row = await self._row(verification_id, version)
            row.attempts += 1
            row.due_at = at
            row.reason = reason[:256]
            await self._session.flush()

    async def check(self, verification_id: str) -> HouseholdCheck | None:
        async with guard():
            row = await self._session.get(HouseholdCheckRow, verification_id)
            return _check(row) if row is not None else None

    async def set_roster_ref(self, verification_id: str, roster_ref: str) -> None:
        async with guard():
            row = await self._session.get(HouseholdCheckRow, verification_id)
            if row is None:
                raise KeyError(verification_id)
            row.roster_ref = roster_ref
            await self._session.flush()

    async def previous_check(self, current: HouseholdCheck) -> HouseholdCheck | None:
        same = HouseholdCheckRow.household_ref == current.household_ref
        if current.roster_ref:
            same = or_(same, HouseholdCheckRow.roster_ref == current.roster_ref)
        q = (
            select(HouseholdCheckRow)
            .where(
                HouseholdCheckRow.region == current.region,
                same,
                or_(
                    HouseholdCheckRow.created_at < current.created_at,
                    and_(
                        HouseholdCheckRow.created_at == current.created_at,
                        HouseholdCheckRow.verification_id < current.verification_id,
                    ),
                ),
            )
            .order_by(HouseholdCheckRow.created_at.desc(), HouseholdCheckRow.verification_id.desc())
            .limit(1)
        )
        async with guard():
            row = (await self._session.execute(q)).scalars().first()
            return _check(row) if row is not None else None

    async def add(self, changes: StoredChanges) -> None:
        c = changes
        async with guard():
            await insert_row(
                self._session,
                ChangeDocumentRow,
                {
                    "verification_id": c.verification_id,
                    "version": c.version,
                    "region": c.region,
                    "household_ref": c.household_ref,
                    "previous_verification_id": c.previous_verification_id,
                    "previous_version": c.previous_version,
                    "previous_report_id": c.previous_report_id,
                    "previous_sha256": c.previous_sha256,
                    "current_report_id": c.current_report_id,
                    "current_sha256": c.current_sha256,
                    "envelope": c.envelope,
                    "envelope_sha256": c.envelope_sha256,
                    "key_id": c.key_id,
                    "codes": ",".join(c.codes),
                    "household_figures_compared": c.household_figures_compared,
                    "withheld": c.withheld,
                    "created_at": c.created_at,
                    "record_seq": c.record_seq,
                },
            )

    async def get(self, verification_id: str, version: int) -> StoredChanges | None:
        q = select(ChangeDocumentRow).where(ChangeDocumentRow.verification_id == verification_id)
        q = (
            q.where(ChangeDocumentRow.version == version)
            if version
            else q.order_by(ChangeDocumentRow.version.desc()).limit(1)
        )
        async with guard():
            row = (await self._session.execute(q)).scalars().first()
            return _changes(row) if row is not None else None

    async def find(self, query: ChangeQuery) -> list[StoredChanges]:
        if not query.regions:
            return []
        D = ChangeDocumentRow  # noqa: N806 (a table alias)
        q = select(D).where(or_(*(D.region.startswith(p, autoescape=True) for p in query.regions)))
        if query.household_ref:
            q = q.where(D.household_ref == query.household_ref)
        if query.verification_id:
            q = q.where(D.verification_id == query.verification_id)
        if query.after is not None:
            at, vid, version = query.after
            q = q.where(
                or_(
                    D.created_at < at,
                    and_(D.created_at == at, D.verification_id < vid),
                    and_(D.created_at == at, D.verification_id == vid, D.version < version),
                )
            )
        q = q.order_by(D.created_at.desc(), D.verification_id.desc(), D.version.desc())
        async with guard():
            rows = (await self._session.execute(q.limit(query.limit))).scalars()
            return [_changes(r) for r in rows]


__all__ = ["SqlChanges"]
