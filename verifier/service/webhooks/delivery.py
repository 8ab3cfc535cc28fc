"""The delivery worker: from the outbox to every subscriber, at least once.

Each round (:meth:`WebhookDelivery.tick`) it gives new outbox events one delivery per
subscriber of their type, leases due deliveries (any replica may; ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; a dead worker's leases expire), POSTs each one signed, and records
the attempt. A 2xx acknowledges; 410 Gone disables the subscriber (its deliveries wait
until ``hedui webhooks enable``); anything else — another status, a timeout, a refused
connection — is tried again on the retry schedule, and after its last step the delivery
is FAILED (``hedui webhooks replay`` sends it again).

The webhook-id is the event's id on every attempt, replay and replica, so a receiver
that deduplicates on it sees each event once even when an acknowledgement was lost
(a worker killed between the receiver's 2xx and recording it sends the event again).

Logs name the subscriber, event id and type, attempt, status, latency — never a body,
a URL (it may hold a token) or a secret.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import structlog

from verifier.domain.ports import Attempt, DeliveryLease, Store
from verifier.domain.webhooks import DeliveryState, RetrySchedule, Verdict, judge
from verifier.service.background import run_rounds
from verifier.service.webhooks.subscribers import Subscriber
from verifier.service.webhooks.transport import Answer, Transport
from verifier.signing.webhooks import signature_headers

log = structlog.get_logger("hedui.webhooks")

ACKNOWLEDGED = "acknowledged"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WebhookDelivery:
    """``clock`` drives the schedule and leases (tests move it instead of sleeping);
    ``wall_clock`` stamps ``webhook-timestamp``, which receivers compare with their own
    clock, so it is always the real time of the attempt."""

    def __init__(
        self,
        store: Store,
        subscribers: Sequence[Subscriber],
        transport: Transport,
        *,
        owner: str,
        schedule: RetrySchedule | None = None,
        timeout: float = 10.0,
        lease_seconds: float = 60.0,
        batch: int = 32,
        clock: Callable[[], datetime] = _utcnow,
        wall_clock: Callable[[], datetime] = _utcnow,
        rng: random.Random | None = None,
    ) -> None:
        if lease_seconds <= timeout:
            # A lease shorter than an attempt would let another worker send it meanwhile.
            raise ValueError("the delivery lease must be longer than the request timeout")
        self._store = store
        self._subscribers: Mapping[str, Subscriber] = {s.name: s for s in subscribers}
        self._subscriptions = [s.subscription() for s in subscribers]
        self._transport = transport
        self.owner = owner
        self._schedule = schedule or RetrySchedule()
        self._timeout = timeout
        self._lease = timedelta(seconds=lease_seconds)
        self._batch = batch
        self._clock = clock
        self._wall_clock = wall_clock
        # Jitter needs no unpredictability, only spread.
        self._rng = rng or random.Random()  # noqa: S311

    @property
    def subscribers(self) -> Mapping[str, Subscriber]:
        return self._subscribers

    async def tick(self) -> int:
        """One round: dispatch new events, send what is due. Returns the work done."""
        now = self._clock()
        names = list(self._subscribers)
        # A read first: an idle replica must not take the write lock every round.
        async with self._store.unit_of_work(write=False) as uow:
            undispatched = await uow.outbox.has_undispatched()
            due = await uow.deliveries.has_due_work(now, names)
        if not (undispatched or due):
            return 0
        async with self._store.unit_of_work(write=True) as uow:
            dispatched = 0
            if undispatched:
                dispatched = await uow.outbox.dispatch(self._subscriptions, now, self._batch)
            leases = await uow.deliveries.lease(
                self.owner, now, now + self._lease, names, self._batch
            )
            await uow.commit()
        if leases:
            await asyncio.gather(*(self._deliver(le) for le in leases))
        return dispatched + len(leases)

    async def next_due(self) -> datetime | None:
        """When the next delivery is due (None: none pending); new events are due at once."""
        async with self._store.unit_of_work(write=False) as uow:
            if await uow.outbox.has_undispatched():
                return self._clock()
            return await uow.deliveries.next_due(list(self._subscribers))

    async def send(self, subscriber: Subscriber, event_id: str, body: bytes) -> Answer:
        """POST one signed body to ``subscriber`` now (also ``hedui webhooks test``)."""
        headers = signature_headers(event_id, self._wall_clock(), body, subscriber.secrets)
        return await self._transport.post(subscriber.url, body, headers, self._timeout)

    async def _deliver(self, lease: DeliveryLease) -> None:
        subscriber = self._subscribers[lease.subscriber]
        answer = await self.send(subscriber, lease.event_id, lease.payload)
        at = self._clock()
        verdict = judge(answer.status)
        attempt = Attempt(
            at,
            answer.status,
            ACKNOWLEDGED if verdict is Verdict.ACKNOWLEDGED else answer.outcome,
            answer.latency_ms,
        )
        state: DeliveryState = DeliveryState.PENDING
        next_at: datetime | None = at
        if verdict is Verdict.ACKNOWLEDGED:
            state, next_at = DeliveryState.DELIVERED, None
        elif verdict is Verdict.RETRY:
            wait = self._schedule.next_delay(lease.attempts + 1, self._rng)
            if wait is None:
                state, next_at = DeliveryState.FAILED, None
            else:
                next_at = at + wait
        # GONE: the delivery stays pending, due at once, and waits with its subscriber.
        try:
            async with self._store.unit_of_work(write=True) as uow:
                kept = await uow.deliveries.record(
                    lease, self.owner, attempt, state=state, next_attempt_at=next_at
                )
                if verdict is Verdict.GONE:
                    await uow.deliveries.disable(lease.subscriber, at, "the receiver answered 410")
                await uow.commit()
        except Exception as exc:
            # The lease expires and the delivery is sent again: at least once.
            log.warning(
                "webhook_record_failed",
                subscriber=lease.subscriber,
                event_id=lease.event_id,
                error=type(exc).__name__,
            )
            return
        log.info(
            "webhook_attempt",
            subscriber=lease.subscriber,
            event_id=lease.event_id,
            event_type=lease.event_type.value,
            attempt=lease.attempts + 1,
            status=answer.status,
            outcome=attempt.outcome,
            latency_ms=answer.latency_ms,
            state=state.value,
            next_attempt_at=next_at.isoformat() if next_at else None,
            kept=kept,
        )
        if verdict is Verdict.GONE:
            log.warning("webhook_subscriber_disabled", subscriber=lease.subscriber, status=410)
        elif state is DeliveryState.FAILED:
            log.warning(
                "webhook_delivery_failed",
                subscriber=lease.subscriber,
                event_id=lease.event_id,
                attempts=lease.attempts + 1,
            )

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Tick until ``stop`` is set; idle rounds wait ``interval`` (or for ``stop``)."""
        # A failed round (a database outage) does not end delivery: the outbox keeps all.
        await run_rounds(self.tick, stop, interval, log=log, failed="webhook_round_failed")

    async def aclose(self) -> None:
        await self._transport.aclose()
