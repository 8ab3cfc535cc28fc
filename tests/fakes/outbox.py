"""In-memory webhook outbox and deliveries, keeping the ports' contract (see
``verifier/domain/ports/outbox.py``): an event added twice is one event; leases behave as
``FOR UPDATE SKIP LOCKED`` would for one process."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from tests.fakes.tables_webhooks import DeliveryRow, OutboxRow, WebhookTables
from verifier.domain.ports import (
    Attempt,
    AttemptView,
    DeliveryLease,
    DeliveryRepository,
    OutboxRepository,
    SubscriberState,
    Subscription,
)
from verifier.domain.ports.outbox import attempt_moves_delivery, is_latest_attempt
from verifier.domain.webhooks import DeliveryState, OutboxEvent


def _new(now: datetime) -> DeliveryRow:
    return DeliveryRow(DeliveryState.PENDING, 0, now, now)


class InMemoryOutbox(OutboxRepository):
    def __init__(self, tables: WebhookTables) -> None:
        self._t = tables

    async def add(self, event: OutboxEvent) -> bool:
        if event.id in self._t.outbox:
            return False
        self._t.outbox[event.id] = OutboxRow(event, len(self._t.outbox))
        return True

    async def has_undispatched(self) -> bool:
        return any(r.dispatched_at is None for r in self._t.outbox.values())

    async def dispatch(
        self, subscriptions: Sequence[Subscription], now: datetime, limit: int
    ) -> int:
        waiting = sorted(
            (r for r in self._t.outbox.values() if r.dispatched_at is None), key=lambda r: r.seq
        )[:limit]
        for row in waiting:
            for sub in subscriptions:
                key = (row.event.id, sub.name)
                if row.event.type in sub.event_types and key not in self._t.deliveries:
                    self._t.deliveries[key] = _new(now)
            self._t.outbox[row.event.id] = replace(row, dispatched_at=now)
        return len(waiting)

    async def get(self, event_id: str) -> OutboxEvent | None:
        row = self._t.outbox.get(event_id)
        return None if row is None else row.event


class InMemoryDeliveries(DeliveryRepository):
    def __init__(self, tables: WebhookTables) -> None:
        self._t = tables

    def _due(self, now: datetime, subscribers: Collection[str]) -> list[tuple[str, str]]:
        names = set(subscribers) - set(self._t.disabled)
        return sorted(
            (
                key
                for key, d in self._t.deliveries.items()
                if key[1] in names
                and d.state is DeliveryState.PENDING
                and d.next_attempt_at is not None
                and d.next_attempt_at <= now
                and (d.lease_until is None or d.lease_until < now)
            ),
            key=lambda k: (self._t.deliveries[k].next_attempt_at, k[0]),
        )

    async def has_due_work(self, now: datetime, subscribers: Collection[str]) -> bool:
        return bool(self._due(now, subscribers))

    async def next_due(self, subscribers: Collection[str]) -> datetime | None:
        names = set(subscribers) - set(self._t.disabled)
        return min(
            (
                d.next_attempt_at
                for (_, sub), d in self._t.deliveries.items()
                if sub in names and d.state is DeliveryState.PENDING and d.next_attempt_at
            ),
            default=None,
        )

    async def lease(
        self,
        owner: str,
        now: datetime,
        until: datetime,
        subscribers: Collection[str],
        limit: int,
    ) -> list[DeliveryLease]:
        out = []
        for key in self._due(now, subscribers)[:limit]:
            d = self._t.deliveries[key] = replace(
                self._t.deliveries[key], lease_owner=owner, lease_until=until
            )
            event = self._t.outbox[key[0]].event
            out.append(DeliveryLease(key[0], event.type, key[1], d.attempts, event.payload()))
        return out

    async def record(
        self,
        lease: DeliveryLease,
        owner: str,
        attempt: Attempt,
        *,
        state: DeliveryState,
        next_attempt_at: datetime | None,
    ) -> bool:
        key = (lease.event_id, lease.subscriber)
        self._t.attempts.append(
            AttemptView(
                lease.event_id,
                lease.subscriber,
                lease.attempts + 1,
                attempt.at,
                attempt.status_code,
                attempt.outcome,
                attempt.latency_ms,
            )
        )
        d = self._t.deliveries.get(key)
        if d is None:
            return False
        changed = False
        if attempt_moves_delivery(d.state, d.lease_owner, owner, state):
            d = replace(
                d,
                state=state,
                attempts=lease.attempts + 1,
                next_attempt_at=next_attempt_at if state is DeliveryState.PENDING else None,
                lease_owner=None,
                lease_until=None,
                delivered_at=attempt.at if state is DeliveryState.DELIVERED else d.delivered_at,
            )
            changed = True
        if is_latest_attempt(d.last_attempt_at, attempt.at):
            d = replace(d, last_attempt_at=attempt.at, last_outcome=attempt.outcome)
        self._t.deliveries[key] = d
        return changed

    async def disable(self, subscriber: str, at: datetime, reason: str) -> None:
        self._t.disabled.setdefault(subscriber, (at, reason[:128]))

    async def enable(self, subscriber: str) -> bool:
        return self._t.disabled.pop(subscriber, None) is not None

    async def disabled(self) -> frozenset[str]:
        return frozenset(self._t.disabled)

    async def states(self, names: Sequence[str]) -> list[SubscriberState]:
        out = []
        for name in names:
            mine = [d for (_, sub), d in self._t.deliveries.items() if sub == name]
            tried = [d for d in mine if d.last_attempt_at is not None]
            last = max(tried, key=lambda d: d.last_attempt_at or d.created_at, default=None)
            delivered = [d.delivered_at for d in mine if d.delivered_at is not None]
            off = self._t.disabled.get(name)
            out.append(
                SubscriberState(
                    name=name,
                    pending=sum(d.state is DeliveryState.PENDING for d in mine),
                    failed=sum(d.state is DeliveryState.FAILED for d in mine),
                    delivered=sum(d.state is DeliveryState.DELIVERED for d in mine),
                    last_attempt_at=last.last_attempt_at if last else None,
                    last_outcome=last.last_outcome if last else "",
                    last_delivered_at=max(delivered, default=None),
                    disabled_at=off[0] if off else None,
                    disabled_reason=off[1] if off else "",
                )
            )
        return out

    async def attempts(
        self, *, subscriber: str = "", event_id: str = "", limit: int = 100
    ) -> list[AttemptView]:
        picked = [
            a
            for a in reversed(self._t.attempts)
            if (not subscriber or a.subscriber == subscriber)
            and (not event_id or a.event_id == event_id)
        ]
        return sorted(picked, key=lambda a: a.at, reverse=True)[:limit]

    async def replay(
        self,
        subscriptions: Sequence[Subscription],
        *,
        since: datetime,
        now: datetime,
        event_id: str = "",
    ) -> int:
        queued = 0
        for row in sorted(self._t.outbox.values(), key=lambda r: r.seq):
            event = row.event
            if event.occurred_at < since or (event_id and event.id != event_id):
                continue
            for sub in subscriptions:
                if event.type not in sub.event_types:
                    continue
                key = (event.id, sub.name)
                d = self._t.deliveries.get(key)
                if d is None:
                    self._t.deliveries[key] = _new(now)
                elif d.state is DeliveryState.PENDING:
                    continue
                else:
                    self._t.deliveries[key] = replace(
                        d,
                        state=DeliveryState.PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        lease_owner=None,
                        lease_until=None,
                    )
                queued += 1
        return queued
