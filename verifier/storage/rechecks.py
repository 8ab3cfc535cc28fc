"""Re-check jobs on SQLAlchemy: one per roster entry and cycle, leased with
``FOR UPDATE SKIP LOCKED`` (PostgreSQL) so replicas share them without waiting."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.outcomes import Completeness
from verifier.domain.ports.rechecks import RecheckRepository, ReleasedCheck
from verifier.domain.roster import JobState, RecheckJob, recheck_request_id
from verifier.storage.guard import guard
from verifier.storage.models import ReportRow
from verifier.storage.models_roster import RecheckJobRow, RosterEntryRow

_PENDING = JobState.PENDING.value
_STARTED = JobState.STARTED.value


def _job(row: RecheckJobRow) -> RecheckJob:
    return RecheckJob(
        id=row.id,
        entry_id=row.entry_id,
        region=row.region,
        household_ref=row.household_ref,
        cycle_due=row.cycle_due,
        state=JobState(row.state),
        request_id=row.request_id,
        attempts=row.attempts,
        verification_id=row.verification_id,
        reason=row.reason,
        on_demand=row.on_demand,
        urgent=row.urgent,
    )


class SqlRechecks(RecheckRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @staticmethod
    def _unscheduled(today: date) -> Select[RosterEntryRow]:
        """Entries due on or before ``today`` without a job for the cycle now due."""
        return select(RosterEntryRow).where(
            RosterEntryRow.next_due_date <= today,
            ~exists().where(
                RecheckJobRow.entry_id == RosterEntryRow.id,
                RecheckJobRow.cycle_due == RosterEntryRow.next_due_date,
                RecheckJobRow.on_demand.is_(false()),
            ),
        )

    @staticmethod
    def _leasable(now: datetime) -> ColumnElement[bool]:
        return and_(
            RecheckJobRow.state == _PENDING,
            or_(RecheckJobRow.lease_until.is_(None), RecheckJobRow.lease_until < now),
            or_(RecheckJobRow.not_before.is_(None), RecheckJobRow.not_before <= now),
        )

    @staticmethod
    def _released() -> Select[RecheckJobRow, datetime, str]:
        return (
            select(RecheckJobRow, ReportRow.created_at, ReportRow.completeness)
            .join(
                ReportRow,
                and_(
                    ReportRow.verification_id == RecheckJobRow.verification_id,
                    ReportRow.version == 1,
                ),
            )
            .where(RecheckJobRow.state == _STARTED)
        )

    async def has_work(self, today: date, now: datetime) -> bool:
        async with guard():
            for q in (
                self._unscheduled(today).with_only_columns(RosterEntryRow.id),
                select(RecheckJobRow.id).where(self._leasable(now)),
                self._released().with_only_columns(RecheckJobRow.id),
            ):
                if (await self._session.execute(q.limit(1))).first() is not None:
                    return True
            return False

    async def enqueue_due(self, today: date, now: datetime, limit: int) -> list[RecheckJob]:
        postgres = self._session.get_bind().dialect.name == "postgresql"
        insert = pg_insert if postgres else sqlite_insert
        created: list[RecheckJob] = []
        async with guard():
            due = (
                await self._session.execute(
                    self._unscheduled(today)
                    .order_by(RosterEntryRow.next_due_date, RosterEntryRow.id)
                    .limit(limit)
                )
            ).scalars()
            for entry in list(due):
                assert entry.next_due_date is not None
                job_id = str(uuid.uuid4())
                request_id = recheck_request_id(entry.id, entry.next_due_date)
                row = {
                    "id": job_id,
                    "entry_id": entry.id,
                    "region": entry.region,
                    "household_ref": entry.household_ref,
                    "cycle_due": entry.next_due_date,
                    "state": _PENDING,
                    "request_id": request_id,
                    "verification_id": "",
                    "reason": "",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                # Another replica may have created the job since the read: its row stands.
                result = await self._session.execute(
                    insert(RecheckJobRow)
                    .values(row)
                    .on_conflict_do_nothing(index_elements=["request_id"])
                    .returning(RecheckJobRow.id)
                )
                if result.first() is not None:
                    created.append(
                        RecheckJob(
                            id=job_id,
                            entry_id=entry.id,
                            region=entry.region,
                            household_ref=entry.household_ref,
                            cycle_due=entry.next_due_date,
                            state=JobState.PENDING,
                            request_id=request_id,
                            attempts=0,
                        )
                    )
        return created

    async def lease(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[RecheckJob]:
        async with guard():
            rows = (
                (
                    await self._session.execute(
                        select(RecheckJobRow)
                        .where(self._leasable(now))
                        .order_by(RecheckJobRow.cycle_due, RecheckJobRow.id)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            for r in rows:
                r.lease_owner = owner
                r.lease_until = until
                r.attempts += 1
                r.updated_at = now
            await self._session.flush()
            return [_job(r) for r in rows]

    async def add_on_demand(
        self, job: RecheckJob, owner: str, now: datetime, until: datetime
    ) -> bool:
        postgres = self._session.get_bind().dialect.name == "postgresql"
        insert = pg_insert if postgres else sqlite_insert
        async with guard():
            result = await self._session.execute(
                insert(RecheckJobRow)
                .values(
                    id=job.id,
                    entry_id=job.entry_id,
                    region=job.region,
                    household_ref=job.household_ref,
                    cycle_due=job.cycle_due,
                    state=_PENDING,
                    request_id=job.request_id,
                    verification_id="",
                    reason="",
                    attempts=1,
                    on_demand=True,
                    urgent=job.urgent,
                    lease_owner=owner,
                    lease_until=until,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["request_id"])
                .returning(RecheckJobRow.id)
            )
            return result.first() is not None

    async def take(
        self, job_id: str, owner: str, now: datetime, until: datetime
    ) -> RecheckJob | None:
        async with guard():
            row = (
                await self._session.execute(
                    select(RecheckJobRow)
                    .where(
                        RecheckJobRow.id == job_id,
                        or_(self._leasable(now), RecheckJobRow.lease_owner == owner),
                        RecheckJobRow.state == _PENDING,
                    )
                    .with_for_update(skip_locked=True)
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            row.lease_owner = owner
            row.lease_until = until
            row.attempts += 1
            row.updated_at = now
            await self._session.flush()
            return _job(row)

    async def _held(self, job_id: str, owner: str, **values: object) -> bool:
        async with guard():
            result = await self._session.execute(
                update(RecheckJobRow)
                .where(
                    RecheckJobRow.id == job_id,
                    RecheckJobRow.state == _PENDING,
                    RecheckJobRow.lease_owner == owner,
                )
                .values(**values)
            )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def started(self, job_id: str, owner: str, verification_id: str, now: datetime) -> bool:
        return await self._held(
            job_id,
            owner,
            state=_STARTED,
            verification_id=verification_id,
            reason="",
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )

    async def finish(
        self, job_id: str, owner: str, state: JobState, reason: str, now: datetime
    ) -> bool:
        return await self._held(
            job_id,
            owner,
            state=state.value,
            reason=reason[:256],
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )

    async def retry_later(self, job_id: str, owner: str, at: datetime, reason: str) -> bool:
        return await self._held(
            job_id,
            owner,
            reason=reason[:256],
            not_before=at,
            lease_owner=None,
            lease_until=None,
            updated_at=at,
        )

    async def released(self, limit: int) -> list[ReleasedCheck]:
        async with guard():
            rows = (
                await self._session.execute(
                    self._released()
                    .order_by(RecheckJobRow.cycle_due, RecheckJobRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True, of=RecheckJobRow)
                )
            ).all()
        return [
            ReleasedCheck(_job(job), job.verification_id, at, Completeness(completeness))
            for job, at, completeness in rows
        ]

    async def complete(self, job_id: str, now: datetime) -> None:
        async with guard():
            await self._session.execute(
                update(RecheckJobRow)
                .where(RecheckJobRow.id == job_id, RecheckJobRow.state == _STARTED)
                .values(state=JobState.DONE.value, updated_at=now)
            )

    async def cancel_pending(self, entry_id: str, keep_cycle: date | None, now: datetime) -> int:
        q = update(RecheckJobRow).where(
            RecheckJobRow.entry_id == entry_id, RecheckJobRow.state == _PENDING
        )
        if keep_cycle is not None:
            q = q.where(RecheckJobRow.cycle_due != keep_cycle)
        async with guard():
            result = await self._session.execute(
                q.values(
                    state=JobState.CANCELLED.value,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def reopen(self, entry_id: str, cycle_due: date, now: datetime) -> bool:
        async with guard():
            result = await self._session.execute(
                update(RecheckJobRow)
                .where(
                    RecheckJobRow.entry_id == entry_id,
                    RecheckJobRow.cycle_due == cycle_due,
                    RecheckJobRow.on_demand.is_(false()),
                    RecheckJobRow.state.in_(
                        (JobState.REAUTHORIZATION_NEEDED.value, JobState.FAILED.value)
                    ),
                )
                .values(state=_PENDING, reason="", not_before=None, updated_at=now)
            )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def for_request(self, request_id: str) -> RecheckJob | None:
        async with guard():
            row = (
                await self._session.execute(
                    select(RecheckJobRow).where(RecheckJobRow.request_id == request_id).limit(1)
                )
            ).scalar_one_or_none()
        return None if row is None else _job(row)

    async def for_cycle(self, entry_id: str, cycle_due: date) -> RecheckJob | None:
        async with guard():
            row = (
                await self._session.execute(
                    select(RecheckJobRow).where(
                        RecheckJobRow.entry_id == entry_id,
                        RecheckJobRow.cycle_due == cycle_due,
                        RecheckJobRow.on_demand.is_(false()),
                    )
                )
            ).scalar_one_or_none()
        return None if row is None else _job(row)
