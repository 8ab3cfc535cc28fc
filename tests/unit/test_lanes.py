"""The priority gate: urgent before interactive before batch, one limit shared by all."""

from __future__ import annotations

import asyncio

import pytest

from verifier.service.lanes import Lane, PriorityGate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    """Let every ready task run until none is left to run (no time passes)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_freed_slot_goes_to_urgent_then_interactive_then_batch_in_arrival_order() -> None:
    gate = PriorityGate(1)
    await gate.acquire(Lane.BATCH)  # the one slot, held by a batch call already running
    order: list[str] = []

    async def call(name: str, lane: Lane) -> None:
        await gate.acquire(lane)
        order.append(name)

    arrivals = [
        ("b1", Lane.BATCH),
        ("b2", Lane.BATCH),
        ("i1", Lane.INTERACTIVE),
        ("u1", Lane.URGENT),
        ("b3", Lane.BATCH),
        ("i2", Lane.INTERACTIVE),
    ]
    tasks = []
    for name, lane in arrivals:
        tasks.append(asyncio.create_task(call(name, lane)))
        await settle()
    assert gate.waiting() == 6 and order == []
    for _ in arrivals:
        gate.release()
        await settle()
    await asyncio.gather(*tasks)
    assert order == ["u1", "i1", "i2", "b1", "b2", "b3"]
    assert gate.granted == {Lane.URGENT: 1, Lane.INTERACTIVE: 2, Lane.BATCH: 4}


async def test_batch_leaves_reserved_slots_free_for_an_interactive_call() -> None:
    gate = PriorityGate(4, batch_reserve=0.25)
    assert gate.reserve_slots == 1
    for _ in range(3):
        await gate.acquire(Lane.BATCH)
    fourth = asyncio.create_task(gate.acquire(Lane.BATCH))
    await settle()
    assert not fourth.done() and gate.waiting(Lane.BATCH) == 1
    # The interactive call arrives after the waiting batch call and goes at once.
    await asyncio.wait_for(gate.acquire(Lane.INTERACTIVE), 1)
    assert gate.in_flight == 4
    gate.release()  # the interactive call ends: the slot is the reserve again
    await settle()
    assert not fourth.done()
    gate.release()  # a batch call ends: the waiting batch call takes its slot
    await asyncio.wait_for(fourth, 1)
    assert gate.in_flight == 3


async def test_a_waiting_interactive_call_is_not_overtaken_by_batch_work() -> None:
    gate = PriorityGate(2, batch_reserve=0.0)
    await gate.acquire(Lane.BATCH)
    await gate.acquire(Lane.BATCH)
    interactive = asyncio.create_task(gate.acquire(Lane.INTERACTIVE))
    await settle()
    batch = asyncio.create_task(gate.acquire(Lane.BATCH))
    await settle()
    gate.release()
    await settle()
    assert interactive.done() and not batch.done()
    gate.release()
    await asyncio.wait_for(batch, 1)


async def test_a_batch_alone_runs_even_with_a_single_slot_and_a_single_token() -> None:
    clock = Clock()
    gate = PriorityGate(1, rate=0.5, clock=clock)
    assert gate.reserve_slots == 0 and gate.reserve_tokens == 0
    await asyncio.wait_for(gate.acquire(Lane.BATCH), 1)
    gate.release()


async def test_batch_keeps_a_reserve_of_burst_tokens_that_an_interactive_call_may_spend() -> None:
    clock = Clock()
    gate = PriorityGate(100, rate=8, batch_reserve=0.25, clock=clock)
    assert gate.capacity == 8 and gate.reserve_tokens == 2
    for _ in range(6):  # 8 tokens; a batch call needs 1 + the 2 reserved
        await gate.acquire(Lane.BATCH)
    blocked = asyncio.create_task(gate.acquire(Lane.BATCH))
    await settle()
    assert not blocked.done()
    # 2 tokens left, both reserved: interactive and urgent calls spend them at once.
    await asyncio.wait_for(gate.acquire(Lane.INTERACTIVE), 1)
    await asyncio.wait_for(gate.acquire(Lane.URGENT), 1)
    late = asyncio.create_task(gate.acquire(Lane.INTERACTIVE))
    await settle()
    assert not late.done()  # the bucket is empty for everyone
    clock.now += 1 / 8  # one token refills: the waiting interactive call, not the batch
    gate.wake()
    await settle()
    assert late.done() and not blocked.done()
    clock.now += 3 / 8  # three tokens: enough for a batch call and its reserve
    gate.wake()
    await asyncio.wait_for(blocked, 1)


async def test_tokens_refill_on_the_loop_without_being_asked() -> None:
    gate = PriorityGate(10, rate=50)  # 50 tokens, then one every 20 ms
    for _ in range(50):
        await gate.acquire(Lane.INTERACTIVE)
        gate.release()
    await asyncio.wait_for(gate.acquire(Lane.INTERACTIVE), 2)


async def test_a_cancelled_waiter_takes_nothing_and_does_not_hold_up_the_queue() -> None:
    gate = PriorityGate(1)
    await gate.acquire(Lane.BATCH)
    urgent = asyncio.create_task(gate.acquire(Lane.URGENT))
    batch = asyncio.create_task(gate.acquire(Lane.BATCH))
    await settle()
    urgent.cancel()  # its deadline passed while waiting
    await settle()
    assert gate.waiting() == 1
    gate.release()
    await asyncio.wait_for(batch, 1)
    assert gate.in_flight == 1


async def test_a_grant_that_meets_a_cancellation_is_handed_on() -> None:
    gate = PriorityGate(1)
    await gate.acquire(Lane.BATCH)
    first = asyncio.create_task(gate.acquire(Lane.INTERACTIVE))
    second = asyncio.create_task(gate.acquire(Lane.BATCH))
    await settle()
    gate.release()  # grants `first` ...
    first.cancel()  # ... which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    assert gate.in_flight == 1


async def test_the_slot_context_releases_on_error() -> None:
    gate = PriorityGate(1)
    with pytest.raises(RuntimeError, match="boom"):
        async with gate.slot(Lane.INTERACTIVE):
            raise RuntimeError("boom")
    assert gate.in_flight == 0
    with pytest.raises(RuntimeError, match="without a matching"):
        gate.release()


@pytest.mark.parametrize(
    ("max_concurrency", "rate", "reserve", "message"),
    [
        (0, 0.0, 0.25, "max_concurrency"),
        (1, -1.0, 0.25, "rate"),
        (1, float("nan"), 0.25, "rate"),
        (1, 0.0, 1.0, "batch_reserve"),
    ],
)
def test_limits_are_checked(
    max_concurrency: int, rate: float, reserve: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PriorityGate(max_concurrency, rate, batch_reserve=reserve)
