"""Webhook deliveries on SQLAlchemy: leased with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL)
so any replica sends them and a dead replica's leases expire; each attempt kept."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.ports.outbox import (
    Attempt,
    AttemptView,
    DeliveryLease,
    DeliveryRepository,
    SubscriberState,
    Subscription,
    attempt_moves_delivery,
    is_latest_attempt,
)
from verifier.domain.webhooks import DeliveryState, EventType
from verifier.storage.guard import guard
from verifier.storage.models_webhooks import (
    AttemptRow,
    DeliveryRow,
    DisabledSubscriberRow,
    OutboxEventRow,
)
from verifier.storage.outbox import new_delivery

_PENDING = DeliveryState.PENDING.value


class SqlDeliveries(DeliveryRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _enabled(self, subscribers: Collection[str]) -> list[str]:
        if not subscribers:
            return []
        return sorted(set(subscribers) - await self.disabled())

    def _due(self, now: datetime, names: list[str]) -> Select[DeliveryRow]:
        return select(DeliveryRow).where(
            DeliveryRow.state == _PENDING,
            DeliveryRow.next_attempt_at <= now,
            DeliveryRow.subscriber.in_(names),
            or_(DeliveryRow.lease_until.is_(None), DeliveryRow.lease_until < now),
        )

    async def has_due_work(self, now: datetime, subscribers: Collection[str]) -> bool:
        async with guard():
            names = await self._enabled(subscribers)
            if not names:
                return False
            return (await self._session.execute(self._due(now, names).limit(1))).first() is not None

    async def next_due(self, subscribers: Collection[str]) -> datetime | None:
        async with guard():
            names = await self._enabled(subscribers)
            if not names:
                return None
            return _aware(
                (
                    await self._session.execute(
                        select(func.min(DeliveryRow.next_attempt_at)).where(
                            DeliveryRow.state == _PENDING, DeliveryRow.subscriber.in_(names)
                        )
                    )
                ).scalar_one_or_none()
            )

    async def lease(
        self,
        owner: str,
        now: datetime,
        until: datetime,
        subscribers: Collection[str],
        limit: int,
    ) -> list[DeliveryLease]:
        async with guard():
            names = await self._enabled(subscribers)
            if not names:
                return []
            rows = (
                (
                    await self._session.execute(
                        self._due(now, names)
                        .order_by(DeliveryRow.next_attempt_at, DeliveryRow.event_id)
                        .limit(limit)
                        .with_for_update(skip_locked=True, of=DeliveryRow)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                return []
            events = {
                e.id: e
                for e in (
                    await self._session.execute(
                        select(OutboxEventRow).where(
                            OutboxEventRow.id.in_({r.event_id for r in rows})
                        )
                    )
                ).scalars()
            }
            leases = []
            for r in rows:
                r.lease_owner = owner
                r.lease_until = until
                e = events[r.event_id]
                leases.append(
                    DeliveryLease(
                        r.event_id,
                        EventType(e.type),
                        r.subscriber,
                        r.attempts,
                        e.payload.encode("ascii"),
                    )
                )
            await self._session.flush()
            return leases

    async def record(
        self,
        lease: DeliveryLease,
        owner: str,
        attempt: Attempt,
        *,
        state: DeliveryState,
        next_attempt_at: datetime | None,
    ) -> bool:
        async with guard():
            self._session.add(
                AttemptRow(
                    event_id=lease.event_id,
                    subscriber=lease.subscriber,
                    number=lease.attempts + 1,
                    at=attempt.at,
                    status_code=attempt.status_code,
                    outcome=attempt.outcome,
                    latency_ms=attempt.latency_ms,
                )
            )
            row = await self._session.get(
                DeliveryRow, (lease.event_id, lease.subscriber), with_for_update=True
            )
            changed = False
            if row is not None and attempt_moves_delivery(
                DeliveryState(row.state), row.lease_owner, owner, state
            ):
                row.state = state.value
                row.attempts = lease.attempts + 1
                row.next_attempt_at = next_attempt_at if state is DeliveryState.PENDING else None
                row.lease_owner = None
                row.lease_until = None
                if state is DeliveryState.DELIVERED:
                    row.delivered_at = attempt.at
                changed = True
            if row is not None and is_latest_attempt(row.last_attempt_at, attempt.at):
                row.last_attempt_at = attempt.at
                row.last_outcome = attempt.outcome
            await self._session.flush()
            return changed

    async def disable(self, subscriber: str, at: datetime, reason: str) -> None:
        async with guard():
            row = await self._session.get(DisabledSubscriberRow, subscriber)
            if row is None:
                self._session.add(
                    DisabledSubscriberRow(name=subscriber, disabled_at=at, reason=reason[:128])
                )
                await self._session.flush()

    async def enable(self, subscriber: str) -> bool:
        async with guard():
            row = await self._session.get(DisabledSubscriberRow, subscriber)
            if row is None:
                return False
            await self._session.delete(row)
            await self._session.flush()
            return True

    async def disabled(self) -> frozenset[str]:
        async with guard():
            return frozenset(
                (await self._session.execute(select(DisabledSubscriberRow.name))).scalars()
            )

    async def states(self, names: Sequence[str]) -> list[SubscriberState]:
        if not names:
            return []
        async with guard():
            counts: dict[tuple[str, str], int] = {
                (sub, state): n
                for sub, state, n in (
                    await self._session.execute(
                        select(DeliveryRow.subscriber, DeliveryRow.state, func.count())
                        .where(DeliveryRow.subscriber.in_(names))
                        .group_by(DeliveryRow.subscriber, DeliveryRow.state)
                    )
                )
            }
            latest = {
                sub: (attempt_at, delivered_at)
                for sub, attempt_at, delivered_at in (
                    await self._session.execute(
                        select(
                            DeliveryRow.subscriber,
                            func.max(DeliveryRow.last_attempt_at),
                            func.max(DeliveryRow.delivered_at),
                        )
                        .where(DeliveryRow.subscriber.in_(names))
                        .group_by(DeliveryRow.subscriber)
                    )
                )
            }
            disabled = {
                r.name: r
                for r in (
                    await self._session.execute(
                        select(DisabledSubscriberRow).where(DisabledSubscriberRow.name.in_(names))
                    )
                ).scalars()
            }
            out = []
            for name in names:
                last_at, last_delivered = latest.get(name, (None, None))
                outcome = ""
                if last_at is not None:
                    outcome = (
                        await self._session.execute(
                            select(DeliveryRow.last_outcome)
                            .where(
                                DeliveryRow.subscriber == name,
                                DeliveryRow.last_attempt_at == last_at,
                            )
                            .limit(1)
                        )
                    ).scalar_one_or_none() or ""
                off = disabled.get(name)
                out.append(
                    SubscriberState(
                        name=name,
                        pending=counts.get((name, _PENDING), 0),
                        failed=counts.get((name, DeliveryState.FAILED.value), 0),
                        delivered=counts.get((name, DeliveryState.DELIVERED.value), 0),
                        last_attempt_at=_aware(last_at),
                        last_outcome=outcome,
                        last_delivered_at=_aware(last_delivered),
                        disabled_at=off.disabled_at if off else None,
                        disabled_reason=off.reason if off else "",
                    )
                )
            return out

    async def attempts(
        self, *, subscriber: str = "", event_id: str = "", limit: int = 100
    ) -> list[AttemptView]:
        async with guard():
            q = select(AttemptRow).order_by(AttemptRow.at.desc(), AttemptRow.id.desc())
            if subscriber:
                q = q.where(AttemptRow.subscriber == subscriber)
            if event_id:
                q = q.where(AttemptRow.event_id == event_id)
            return [
                AttemptView(
                    r.event_id, r.subscriber, r.number, r.at, r.status_code, r.outcome, r.latency_ms
                )
                for r in (await self._session.execute(q.limit(limit))).scalars()
            ]

    async def replay(
        self,
        subscriptions: Sequence[Subscription],
        *,
        since: datetime,
        now: datetime,
        event_id: str = "",
    ) -> int:
        async with guard():
            q = select(OutboxEventRow.id, OutboxEventRow.type).where(
                OutboxEventRow.occurred_at >= since
            )
            if event_id:
                q = q.where(OutboxEventRow.id == event_id)
            events = (await self._session.execute(q)).all()
            queued = 0
            for eid, etype in events:
                for sub in subscriptions:
                    if EventType(etype) not in sub.event_types:
                        continue
                    row = await self._session.get(
                        DeliveryRow, (eid, sub.name), with_for_update=True
                    )
                    if row is None:
                        self._session.add(new_delivery(eid, sub.name, now))
                    elif row.state == _PENDING:
                        continue
                    else:
                        row.state = _PENDING
                        row.attempts = 0
                        row.next_attempt_at = now
                        row.lease_owner = None
                        row.lease_until = None
                    queued += 1
            await self._session.flush()
            return queued


def _aware(value: datetime | None) -> datetime | None:
    """An aggregate's value as an aware UTC time, however the driver returned it."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
