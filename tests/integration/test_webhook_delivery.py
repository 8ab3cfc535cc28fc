"""Webhooks end to end over real HTTP, on SQLite and PostgreSQL: a receiver that refuses
(503) for an hour and then comes back gets every event exactly once after deduplication
by webhook-id; a worker killed while the receiver holds its request loses nothing (the
lease expires and another worker sends the same id); 410 disables; two workers on
PostgreSQL never send one delivery twice; secrets appear in no log line.

The worker's clock is moved by the test (no sleeping through the retry schedule); the
signatures carry the real time, so the receiver verifies them with the library as is."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from hedui_sdk import Secret
from tests.log_capture import server_log_lines
from tests.webhook_receiver import Receiver
from verifier.domain.ports import UnitOfWork
from verifier.domain.webhooks import (
    EventType,
    OutboxEvent,
    RetrySchedule,
    alert_raised,
    batch_completed,
    report_issued,
    verification_overdue,
)
from verifier.service.webhooks.delivery import WebhookDelivery
from verifier.service.webhooks.subscribers import Subscriber
from verifier.storage.engine import open_database
from verifier.storage.sealing import Sealer
from verifier.storage.uow import SqlStore
from verifier.transport.webhook_http import HttpTransport

SECRET = "whsec_" + base64.b64encode(bytes(range(3, 35))).decode()
ALL_TYPES = frozenset(
    {
        EventType.REPORT_ISSUED,
        EventType.VERIFICATION_OVERDUE,
        EventType.ALERT_RAISED,
        EventType.BATCH_COMPLETED,
    }
)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def events(n: int, at: datetime) -> list[OutboxEvent]:
    out: list[OutboxEvent] = []
    for i in range(n):
        vid = f"0b7e4c1a-1111-4222-8333-{i:012d}"
        kind = i % 4
        if kind == 0:
            out.append(
                report_issued(
                    verification_id=vid,
                    case_id=f"CASE-{i}",
                    version=1,
                    envelope_sha256="e" * 64,
                    at=at,
                )
            )
        elif kind == 1:
            out.append(
                verification_overdue(
                    verification_id=vid, case_id=f"CASE-{i}", due_date=date(2026, 12, 31), at=at
                )
            )
        elif kind == 2:
            out.append(alert_raised(alert_id=f"A-{i}", region="370322", risk_level="high", at=at))
        else:
            out.append(batch_completed(batch_id=f"B-{i}", at=at))
    return out


@contextlib.asynccontextmanager
async def sql_store(url: str) -> AsyncIterator[SqlStore]:
    store = SqlStore(open_database(url), Sealer.without_keys())
    try:
        yield store
    finally:
        await store.aclose()


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


def worker(store: SqlStore, url: str, clock: Clock, owner: str, **kw: object) -> WebhookDelivery:
    sub = Subscriber("county-case", url, ALL_TYPES, (Secret(SECRET),))
    return WebhookDelivery(
        store,
        [sub],
        HttpTransport(),
        owner=owner,
        clock=clock,
        timeout=5.0,
        lease_seconds=60.0,
        **kw,  # type: ignore[arg-type]
    )


async def add_each(store: SqlStore, batch: list[OutboxEvent]) -> None:
    for e in batch:  # one transaction per event, as the use cases write them

        async def work(uow: UnitOfWork, e: OutboxEvent = e) -> None:
            await uow.outbox.add(e)

        await store.write(work)


async def states(store: SqlStore) -> dict[str, int]:
    async with store.unit_of_work(write=False) as uow:
        s = (await uow.deliveries.states(["county-case"]))[0]
    return {"pending": s.pending, "delivered": s.delivered, "failed": s.failed}


async def settle(w: WebhookDelivery, clock: Clock, rounds: int = 200) -> int:
    """Tick; when idle, move the clock to the next due delivery; until none is pending.
    Returns the rounds it took (bounded)."""
    for n in range(rounds):
        if await w.tick():
            continue
        due = await w.next_due()
        if due is None:
            return n
        clock.now = max(clock.now, due)
    raise AssertionError("deliveries did not settle within the bound")


async def test_a_receiver_down_for_an_hour_gets_every_event_once(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = datetime.now(UTC)
    clock = Clock(t0)
    back_at = t0 + timedelta(hours=1)
    receiver = Receiver(SECRET, status=lambda: 503 if clock.now < back_at else 200)
    sent = events(12, t0)
    async with receiving(receiver), sql_store(database_url) as store:
        w = worker(store, receiver.url, clock, "replica-a")
        try:
            with server_log_lines(capsys) as read_logs:
                await add_each(store, sent[:6])
                assert await w.tick() == 12  # 6 dispatched, 6 sent (and refused)
                await add_each(store, sent[6:])  # more arrive while it is down
                await settle(w, clock)
                logs = read_logs()
        finally:
            await w.aclose()
        assert clock.now >= back_at
        assert set(receiver.processed) == {e.id for e in sent}
        assert receiver.duplicates == 0 and receiver.refused == 0
        # It was asked more than once while down, always with the same ids.
        assert len(receiver.requests) > len(sent)
        assert set(receiver.requests) == {e.id for e in sent}
        for e in sent:
            doc = receiver.processed[e.id]
            assert doc["type"] == e.type.value and doc["data"] == e.data_dict()
        assert await states(store) == {"pending": 0, "delivered": 12, "failed": 0}
        async with store.unit_of_work(write=False) as uow:
            history = await uow.deliveries.attempts(subscriber="county-case", limit=1000)
        assert len(history) == len(receiver.requests)
        assert {a.status_code for a in history} == {503, 200}
        assert all(a.latency_ms >= 0 for a in history)
    text = json.dumps(logs)
    assert SECRET not in text and SECRET.removeprefix("whsec_") not in text
    assert receiver.url not in text and "CASE-" not in text
    attempts = [entry for entry in logs if entry["event"] == "webhook_attempt"]
    assert len(attempts) == len(receiver.requests)
    assert {entry["status"] for entry in attempts} == {503, 200}


async def test_a_worker_killed_mid_delivery_loses_nothing(database_url: str) -> None:
    t0 = datetime.now(UTC)
    clock = Clock(t0)
    receiver = Receiver(SECRET, hold=True)
    sent = events(3, t0)
    async with receiving(receiver), sql_store(database_url) as store:
        await add_each(store, sent)
        first = worker(store, receiver.url, clock, "replica-a", batch=1)
        task = asyncio.create_task(first.tick())
        # The receiver has processed the first event and holds its answer: the sender dies.
        await receiver.arrived.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await first.aclose()
        held = receiver.requests[0]
        # Dispatched so far (batch=1): the held one, pending, not delivered.
        assert await states(store) == {"pending": 1, "delivered": 0, "failed": 0}

    # Another process, its own connection to the database: the held lease is respected…
    receiver.release.set()
    async with receiving(Receiver(SECRET)) as again, sql_store(database_url) as store:
        again.processed = dict(receiver.processed)  # the receiver's memory of what it did
        second = worker(store, again.url, clock, "replica-b")
        try:
            await second.tick()
            assert held not in again.requests
            assert again.duplicates == 0
            # … until it expires; then the same webhook-id goes out again, and is deduplicated.
            clock.now += timedelta(seconds=61)
            await settle(second, clock)
        finally:
            await second.aclose()
        assert again.requests.count(held) == 1 and again.duplicates == 1
        assert set(again.processed) == {e.id for e in sent}
        assert await states(store) == {"pending": 0, "delivered": 3, "failed": 0}


async def test_410_disables_the_subscription(database_url: str) -> None:
    t0 = datetime.now(UTC)
    clock = Clock(t0)
    receiver = Receiver(SECRET, status=lambda: 410)
    async with receiving(receiver), sql_store(database_url) as store:
        w = worker(store, receiver.url, clock, "replica-a")
        try:
            await add_each(store, events(2, t0))
            await w.tick()
            await add_each(store, events(4, t0)[2:])
            clock.now += timedelta(days=2)
            while await w.tick():
                pass
        finally:
            await w.aclose()
        assert len(receiver.requests) == 2  # both were in flight; nothing after the 410
        async with store.unit_of_work(write=False) as uow:
            (state,) = await uow.deliveries.states(["county-case"])
            assert await uow.deliveries.disabled() == frozenset({"county-case"})
            assert await uow.deliveries.next_due(["county-case"]) is None
        assert state.disabled_at is not None and state.pending == 4
        assert state.delivered == state.failed == 0


@pytest.mark.postgres
async def test_two_replicas_never_send_one_delivery_twice(postgres_url: str) -> None:
    t0 = datetime.now(UTC)
    clock = Clock(t0)
    receiver = Receiver(SECRET)
    sent = events(40, t0)
    async with (
        receiving(receiver),
        sql_store(postgres_url) as one,
        sql_store(postgres_url) as two,
    ):
        await add_each(one, sent)
        a = worker(one, receiver.url, clock, "replica-a", batch=5)
        b = worker(two, receiver.url, clock, "replica-b", batch=5)
        try:
            for _ in range(40):
                if not any(await asyncio.gather(a.tick(), b.tick())):
                    break
        finally:
            await a.aclose()
            await b.aclose()
        assert sorted(receiver.requests) == sorted(e.id for e in sent)
        assert receiver.duplicates == 0
        assert await states(one) == {"pending": 0, "delivered": 40, "failed": 0}


async def test_the_schedule_ends_in_failed_and_replay_delivers_the_same_id(
    database_url: str,
) -> None:
    t0 = datetime.now(UTC)
    clock = Clock(t0)
    up = False
    receiver = Receiver(SECRET, status=lambda: 200 if up else 500)
    (e,) = events(1, t0)
    async with receiving(receiver), sql_store(database_url) as store:
        w = worker(
            store, receiver.url, clock, "replica-a", schedule=RetrySchedule.of_seconds([5, 60])
        )
        try:
            await add_each(store, [e])
            await settle(w, clock)
            assert await states(store) == {"pending": 0, "delivered": 0, "failed": 1}
            assert len(receiver.requests) == 3
            up = True
            async with store.unit_of_work(write=True) as uow:
                sub = w.subscribers["county-case"].subscription()
                assert await uow.deliveries.replay([sub], since=t0, now=clock.now) == 1
                await uow.commit()
            await settle(w, clock)
        finally:
            await w.aclose()
        assert receiver.requests == [e.id] * 4 and list(receiver.processed) == [e.id]
        assert await states(store) == {"pending": 0, "delivered": 1, "failed": 0}
        async with store.unit_of_work(write=False) as uow:
            history = await uow.deliveries.attempts(event_id=e.id)
        assert [a.number for a in reversed(history)] == [1, 2, 3, 1]
