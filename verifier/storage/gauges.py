"""Queue depths and the audit log's state, counted for the metrics endpoint.

Counted in the database, not in the process, so every replica reports the same figures
and a scrape after a restart is right at once. Each count uses an index the workers'
own queries use (state and due columns); nothing is locked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.schema import AuditCheckpointRow, AuditHeadRow
from verifier.domain.outcomes import SourceStatus
from verifier.domain.ports.telemetry import GaugeReader, Gauges
from verifier.domain.roster.recheck import JobState
from verifier.domain.webhooks import DeliveryState
from verifier.storage.engine import Database
from verifier.storage.guard import guard
from verifier.storage.models import SourceOutcomeRow
from verifier.storage.models_roster import RecheckJobRow
from verifier.storage.models_webhooks import DeliveryRow, OutboxEventRow


async def _count(session: AsyncSession, query: object) -> int:
    return int((await session.execute(query)).scalar_one())  # type: ignore[call-overload]


class SqlGauges(GaugeReader):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self) -> Gauges:
        async with guard(), self._db.read_sessions() as session:
            polls = await _count(
                session,
                select(func.count()).where(
                    SourceOutcomeRow.status == SourceStatus.PENDING.value,
                    SourceOutcomeRow.next_poll_at.is_not(None),
                ),
            )
            rechecks = await _count(
                session,
                select(func.count()).where(RecheckJobRow.state == JobState.PENDING.value),
            )
            deliveries = await _count(
                session,
                select(func.count()).where(DeliveryRow.state == DeliveryState.PENDING.value),
            )
            undispatched = await _count(
                session,
                select(func.count()).where(OutboxEventRow.dispatched_at.is_(None)),
            )
            last_seq = (await session.execute(select(AuditHeadRow.last_seq))).scalar()
            newest = (
                await session.execute(
                    select(AuditCheckpointRow.size, AuditCheckpointRow.created_at)
                    .order_by(AuditCheckpointRow.size.desc())
                    .limit(1)
                )
            ).first()
        return Gauges(
            polls_pending=polls,
            rechecks_pending=rechecks,
            webhooks_pending=deliveries + undispatched,
            audit_entries=0 if last_seq is None else int(last_seq) + 1,
            checkpoint_at=None if newest is None else datetime.fromisoformat(newest[1]),
            checkpoint_size=0 if newest is None else int(newest[0]),
        )
