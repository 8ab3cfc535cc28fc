"""The webhook outbox on SQLAlchemy: events written in their cause's transaction, and
their dispatch into one delivery per subscriber (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas dispatch different events)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.ports.outbox import OutboxRepository, Subscription
from verifier.domain.webhooks import DeliveryState, EventType, OutboxEvent
from verifier.storage.guard import guard
from verifier.storage.insert_new import insert_new
from verifier.storage.models_webhooks import DeliveryRow, OutboxEventRow


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def event_of(row: OutboxEventRow) -> OutboxEvent:
    doc = json.loads(row.payload)
    return OutboxEvent(
        row.id,
        EventType(row.type),
        _parse_time(doc["timestamp"]),
        tuple(sorted(doc["data"].items())),
    )


class SqlOutbox(OutboxRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, event: OutboxEvent) -> bool:
        async with guard():
            return await insert_new(
                self._session,
                OutboxEventRow,
                {
                    "id": event.id,
                    "type": event.type.value,
                    "occurred_at": event.occurred_at,
                    "payload": event.payload().decode("ascii"),
                    "created_at": datetime.now(UTC),
                    "dispatched_at": None,
                },
            )

    async def has_undispatched(self) -> bool:
        async with guard():
            q = select(OutboxEventRow.id).where(OutboxEventRow.dispatched_at.is_(None)).limit(1)
            return (await self._session.execute(q)).first() is not None

    async def dispatch(
        self, subscriptions: Sequence[Subscription], now: datetime, limit: int
    ) -> int:
        async with guard():
            rows = (
                (
                    await self._session.execute(
                        select(OutboxEventRow)
                        .where(OutboxEventRow.dispatched_at.is_(None))
                        .order_by(OutboxEventRow.created_at, OutboxEventRow.id)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                return 0
            # A replay may already have given an undispatched event a delivery.
            existing = set(
                (
                    await self._session.execute(
                        select(DeliveryRow.event_id, DeliveryRow.subscriber).where(
                            DeliveryRow.event_id.in_([r.id for r in rows])
                        )
                    )
                ).all()
            )
            for row in rows:
                for sub in subscriptions:
                    if (
                        EventType(row.type) in sub.event_types
                        and (row.id, sub.name) not in existing
                    ):
                        self._session.add(new_delivery(row.id, sub.name, now))
                row.dispatched_at = now
            await self._session.flush()
            return len(rows)

    async def get(self, event_id: str) -> OutboxEvent | None:
        async with guard():
            row = await self._session.get(OutboxEventRow, event_id)
            return None if row is None else event_of(row)


def new_delivery(event_id: str, subscriber: str, now: datetime) -> DeliveryRow:
    return DeliveryRow(
        event_id=event_id,
        subscriber=subscriber,
        state=DeliveryState.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        lease_owner=None,
        lease_until=None,
        last_attempt_at=None,
        last_outcome="",
        delivered_at=None,
        created_at=now,
    )
