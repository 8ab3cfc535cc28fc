"""The outbox and delivery repositories keep one contract on SQLite, PostgreSQL and the
in-memory fake: an event added twice is one event, an event rolled back with its cause is
not there, dispatch gives one delivery per subscriber of the type, leases skip what is
held, only the lease owner records a retry, a 2xx is kept whoever holds the lease,
disabled subscribers are skipped, replay re-queues with the same id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import InMemoryStore
from verifier.domain.ports import Attempt, Store, Subscription, UnitOfWork
from verifier.domain.webhooks import (
    DeliveryState,
    EventType,
    alert_raised,
    batch_completed,
    report_issued,
)
from verifier.storage.engine import open_database
from verifier.storage.sealing import Sealer
from verifier.storage.uow import SqlStore

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
VID = "0b7e4c1a-1111-4222-8333-444455556666"
SHA = "ab" * 32

ALL = Subscription("county-case", frozenset({EventType.REPORT_ISSUED, EventType.ALERT_RAISED}))
ALERTS = Subscription("monitor", frozenset({EventType.ALERT_RAISED}))


@pytest.fixture(params=["sql", "memory"])
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    if request.param == "memory":
        if "postgresql" in database_url:
            pytest.skip("the fake runs once")
        yield InMemoryStore()
        return
    s = SqlStore(open_database(database_url), Sealer.without_keys())
    try:
        yield s
    finally:
        await s.aclose()


async def test_an_event_added_twice_is_one_event_and_a_rollback_leaves_none(store: Store) -> None:
    event = report_issued(
        verification_id=VID, case_id="CASE-1", version=1, envelope_sha256=SHA, at=T0
    )

    async def add(uow: UnitOfWork) -> bool:
        return await uow.outbox.add(event)

    assert await store.write(add) is True
    assert await store.write(add) is False

    class Boom(Exception):
        pass

    other = batch_completed(batch_id="B-1", at=T0)

    async def add_then_fail(uow: UnitOfWork) -> None:
        await uow.outbox.add(other)
        raise Boom

    with pytest.raises(Boom):
        await store.write(add_then_fail)
    async with store.unit_of_work(write=False) as uow:
        assert await uow.outbox.get(event.id) == event
        assert await uow.outbox.get(other.id) is None


async def test_dispatch_lease_record_replay(store: Store) -> None:
    r1 = report_issued(verification_id=VID, case_id="C", version=1, envelope_sha256=SHA, at=T0)
    a1 = alert_raised(alert_id="A-1", region="370322", risk_level="high", at=T0)
    b1 = batch_completed(batch_id="B-1", at=T0)
    subs = [ALL, ALERTS]
    names = [s.name for s in subs]

    async def add(uow: UnitOfWork) -> None:
        for e in (r1, a1, b1):
            await uow.outbox.add(e)

    await store.write(add)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.outbox.has_undispatched()
        assert await uow.outbox.dispatch(subs, T0, 10) == 3
        assert not await uow.outbox.has_undispatched()
        assert await uow.outbox.dispatch(subs, T0, 10) == 0
        await uow.commit()

    until = T0 + timedelta(minutes=1)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.deliveries.has_due_work(T0, names)
        leases = await uow.deliveries.lease("w1", T0, until, names, 10)
        await uow.commit()
    # r1 → county-case; a1 → both; b1 → nobody.
    assert sorted((le.event_id, le.subscriber) for le in leases) == sorted(
        [(r1.id, "county-case"), (a1.id, "county-case"), (a1.id, "monitor")]
    )
    assert all(le.attempts == 0 for le in leases)
    by_key = {(le.event_id, le.subscriber): le for le in leases}
    assert by_key[(r1.id, "county-case")].payload == r1.payload()

    # Held leases are skipped by another worker until they expire.
    async with store.unit_of_work(write=True) as uow:
        assert await uow.deliveries.lease("w2", T0, until, names, 10) == []
        assert not await uow.deliveries.has_due_work(T0, names)
        await uow.rollback()

    ok = Attempt(T0, 200, "acknowledged", 12)
    busy = Attempt(T0, 503, "http_503", 7)
    async with store.unit_of_work(write=True) as uow:
        d = uow.deliveries
        assert await d.record(
            by_key[(r1.id, "county-case")],
            "w1",
            ok,
            state=DeliveryState.DELIVERED,
            next_attempt_at=None,
        )
        # Not the owner: a retry is not recorded as the state (the attempt is kept).
        assert not await d.record(
            by_key[(a1.id, "monitor")],
            "w2",
            busy,
            state=DeliveryState.PENDING,
            next_attempt_at=T0 + timedelta(seconds=5),
        )
        assert await d.record(
            by_key[(a1.id, "monitor")],
            "w1",
            busy,
            state=DeliveryState.PENDING,
            next_attempt_at=T0 + timedelta(seconds=5),
        )
        # A 2xx counts whoever holds the lease: the receiver has the event.
        assert await d.record(
            by_key[(a1.id, "county-case")],
            "someone-else",
            ok,
            state=DeliveryState.DELIVERED,
            next_attempt_at=None,
        )
        await uow.commit()

    async with store.unit_of_work(write=True) as uow:
        assert not await uow.deliveries.has_due_work(T0 + timedelta(seconds=4), names)
        later = T0 + timedelta(seconds=5)
        again = await uow.deliveries.lease("w2", later, later + timedelta(minutes=1), names, 10)
        assert [(le.event_id, le.subscriber, le.attempts) for le in again] == [
            (a1.id, "monitor", 1)
        ]
        states = {s.name: s for s in await uow.deliveries.states([*names, "nobody"])}
        assert (states["county-case"].delivered, states["county-case"].pending) == (2, 0)
        assert (states["monitor"].pending, states["monitor"].delivered) == (1, 0)
        assert states["monitor"].last_outcome == "http_503"
        assert states["county-case"].last_delivered_at == T0
        assert states["nobody"].pending == states["nobody"].delivered == 0
        history = await uow.deliveries.attempts(subscriber="monitor")
        assert [(a.number, a.status_code) for a in history] == [(1, 503), (1, 503)]
        await uow.commit()

    # Disabled subscribers are not leased; enabling lets their deliveries go.
    async with store.unit_of_work(write=True) as uow:
        await uow.deliveries.disable("monitor", T0, "410 Gone")
        assert await uow.deliveries.disabled() == frozenset({"monitor"})
        far = T0 + timedelta(hours=1)
        assert await uow.deliveries.lease("w3", far, far + timedelta(minutes=1), names, 10) == []
        assert (await uow.deliveries.states(["monitor"]))[0].disabled_reason == "410 Gone"
        assert await uow.deliveries.enable("monitor")
        assert not await uow.deliveries.enable("monitor")
        assert len(await uow.deliveries.lease("w3", far, far, names, 10)) == 1
        await uow.commit()

    # Replay: delivered deliveries become pending again; a new subscriber gets the events
    # it never had; pending ones are not counted twice.
    late = Subscription("late", frozenset({EventType.BATCH_COMPLETED}))
    async with store.unit_of_work(write=True) as uow:
        n = await uow.deliveries.replay([*subs, late], since=T0, now=T0 + timedelta(hours=2))
        assert n == 3  # r1 and a1 to county-case again, b1 to "late"; a1→monitor pending
        assert await uow.deliveries.replay([ALL], since=T0 + timedelta(seconds=1), now=T0) == 0
        leases = await uow.deliveries.lease(
            "w4", T0 + timedelta(hours=2), T0 + timedelta(hours=3), [*names, "late"], 10
        )
        assert sorted((le.event_id, le.subscriber, le.attempts) for le in leases) == sorted(
            [
                (r1.id, "county-case", 0),
                (a1.id, "county-case", 0),
                (b1.id, "late", 0),
                # w3's lease on it has expired: due again, one attempt made.
                (a1.id, "monitor", 1),
            ]
        )
        await uow.commit()
