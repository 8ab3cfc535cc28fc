"""Leased work on SQLAlchemy: due polls of PENDING sources, and runs whose process died.

Leases are taken with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so replicas share the
work without waiting for each other; a dead replica's leases expire."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.outcomes import SourceStatus, VerificationState
from verifier.domain.ports import PollLease, PollRepository
from verifier.storage.guard import guard
from verifier.storage.models import SourceOutcomeRow, VerificationRow
from verifier.storage.outcomes import outcome_of
from verifier.storage.sealing import Sealer


class SqlPolls(PollRepository):
    def __init__(self, session: AsyncSession, sealer: Sealer) -> None:
        self._session = session
        self._sealer = sealer

    async def has_due_work(self, now: datetime) -> bool:
        async with guard():
            due_poll = select(SourceOutcomeRow.verification_id).where(
                SourceOutcomeRow.status == SourceStatus.PENDING.value,
                SourceOutcomeRow.next_poll_at <= now,
                or_(SourceOutcomeRow.lease_until.is_(None), SourceOutcomeRow.lease_until < now),
            )
            stale_run = select(VerificationRow.id).where(
                VerificationRow.state == VerificationState.RUNNING.value,
                VerificationRow.run_lease_until < now,
            )
            for q in (due_poll, stale_run):
                if (await self._session.execute(q.limit(1))).first() is not None:
                    return True
            return False

    async def lease(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[PollLease]:
        async with guard():
            rows = (
                (
                    await self._session.execute(
                        select(SourceOutcomeRow)
                        .where(
                            SourceOutcomeRow.status == SourceStatus.PENDING.value,
                            SourceOutcomeRow.next_poll_at <= now,
                            or_(
                                SourceOutcomeRow.lease_until.is_(None),
                                SourceOutcomeRow.lease_until < now,
                            ),
                        )
                        .order_by(SourceOutcomeRow.next_poll_at)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            leases = []
            for r in rows:
                r.lease_owner = owner
                r.lease_until = until
                o = outcome_of(r, self._sealer)
                if o.ticket is None:
                    continue
                leases.append(
                    PollLease(
                        r.verification_id,
                        r.member_index,
                        r.source,
                        o.ticket,
                        r.poll_attempts,
                        r.due_at,
                        r.overdue_flagged,
                    )
                )
            await self._session.flush()
            return leases

    async def _leased_row(
        self, verification_id: str, member_index: int, source: str, owner: str
    ) -> SourceOutcomeRow | None:
        row = await self._session.get(
            SourceOutcomeRow, (verification_id, member_index, source), with_for_update=True
        )
        if row is None or row.status != SourceStatus.PENDING.value or row.lease_owner != owner:
            return None
        return row

    async def reschedule(
        self, lease: PollLease, owner: str, next_poll_at: datetime, reason: str
    ) -> bool:
        async with guard():
            row = await self._leased_row(
                lease.verification_id, lease.member_index, lease.source, owner
            )
            if row is None:
                return False
            row.lease_owner = None
            row.lease_until = None
            row.next_poll_at = next_poll_at
            row.poll_attempts = lease.poll_attempts + 1
            if reason:
                row.reason = reason
            await self._session.flush()
            return True

    async def holds(self, verification_id: str, member_index: int, source: str, owner: str) -> bool:
        async with guard():
            return await self._leased_row(verification_id, member_index, source, owner) is not None

    async def claim_stale_runs(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[str]:
        async with guard():
            rows = (
                (
                    await self._session.execute(
                        select(VerificationRow)
                        .where(
                            VerificationRow.state == VerificationState.RUNNING.value,
                            VerificationRow.run_lease_until < now,
                        )
                        .order_by(VerificationRow.run_lease_until)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            for r in rows:
                r.run_owner = owner
                r.run_lease_until = until
            await self._session.flush()
            return [r.id for r in rows]

    async def release_runs(self, owner: str, verification_ids: list[str], now: datetime) -> int:
        if not verification_ids:
            return 0
        async with guard():
            result = await self._session.execute(
                update(VerificationRow)
                .where(
                    VerificationRow.id.in_(verification_ids),
                    VerificationRow.run_owner == owner,
                    VerificationRow.state == VerificationState.RUNNING.value,
                )
                .values(run_lease_until=now)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
