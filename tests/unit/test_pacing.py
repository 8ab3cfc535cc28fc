"""Pacing a source to its department's rate limit: the gate holds for Retry-After, the
pace drops once per refusal burst and climbs back with answers, lanes keep their order."""

from __future__ import annotations

import asyncio

import pytest

from verifier.service.lanes import Lane, PriorityGate
from verifier.service.pacing import DECREASE, MIN_RATE, Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    """Let every ready task run until none is left to run (no time passes)."""
    for _ in range(20):
        await asyncio.sleep(0)


def paced(rate: float = 5.0) -> tuple[PriorityGate, Pacer, Clock]:
    clock = Clock()
    gate = PriorityGate(8, rate, batch_reserve=0.0, clock=clock)
    return gate, Pacer(gate, rate, clock=clock), clock


async def test_nothing_is_granted_until_the_retry_after_has_passed() -> None:
    gate, pacer, clock = paced()
    pacer.limited(2.0)
    assert gate.held_until == clock.now + 2.0
    assert not gate.try_acquire(Lane.URGENT)
    clock.now += 1.999
    assert not gate.try_acquire(Lane.URGENT)
    clock.now += 0.001
    # Then one call at once, the next only at the (lowered) pace.
    assert gate.try_acquire(Lane.INTERACTIVE)
    assert not gate.try_acquire(Lane.INTERACTIVE)
    clock.now += 1.0 / gate.rate
    assert gate.try_acquire(Lane.INTERACTIVE)


async def test_without_retry_after_the_pause_is_one_call_at_the_new_pace() -> None:
    gate, pacer, clock = paced()
    pacer.limited(None)
    assert gate.rate == pytest.approx(5.0 * DECREASE)
    assert gate.held_until == pytest.approx(clock.now + 1.0 / gate.rate)


async def test_a_burst_of_refusals_lowers_the_pace_once() -> None:
    gate, pacer, clock = paced()
    for _ in range(6):  # every call in flight comes back 429 together
        pacer.limited(1.0)
    assert gate.rate == pytest.approx(5.0 * DECREASE)
    assert (pacer.decreases, pacer.limited_count) == (1, 6)
    clock.now += 1.0  # refused again after the pause: the pace was still too high
    pacer.limited(1.0)
    assert gate.rate == pytest.approx(5.0 * DECREASE * DECREASE)


async def test_the_pace_never_drops_below_the_floor() -> None:
    gate, pacer, clock = paced(0.12)
    for _ in range(5):
        pacer.limited(None)
        clock.now = gate.held_until
    assert gate.rate == MIN_RATE


async def test_answers_raise_the_pace_back_to_the_configured_rate_and_no_further() -> None:
    gate, pacer, clock = paced()
    pacer.limited(1.0)
    lowered = gate.rate
    clock.now += 1.0
    pacer.answered()
    assert gate.rate == pytest.approx(lowered + 1.0 / lowered)
    assert pacer.limiting
    for _ in range(20):
        pacer.answered()
    assert gate.rate == 5.0
    assert not pacer.limiting


async def test_answers_do_not_change_a_source_that_was_never_limited() -> None:
    gate, pacer, _ = paced()
    for _ in range(10):
        pacer.answered()
    assert gate.rate == 5.0 and not pacer.limiting


async def test_an_unlimited_source_is_paced_from_the_answers_it_was_getting() -> None:
    clock = Clock()
    gate = PriorityGate(8, 0.0, batch_reserve=0.0, clock=clock)
    pacer = Pacer(gate, 0.0, clock=clock)
    for _ in range(10):  # ten answers in the last second, then a 429
        clock.now += 0.09
        pacer.answered()
    assert gate.rate == 0.0
    pacer.limited(1.0)
    assert gate.rate == pytest.approx(10 * DECREASE)
    assert pacer.limiting
    clock.now += 1.0
    assert gate.try_acquire(Lane.INTERACTIVE)
    assert not gate.try_acquire(Lane.INTERACTIVE)
    # With no configured ceiling the pace keeps climbing while answers come.
    for _ in range(50):
        pacer.answered()
    assert gate.rate > 10


async def test_after_a_pause_an_interactive_call_goes_before_batch_calls_queued_earlier() -> None:
    gate, pacer, clock = paced(1.0)
    pacer.limited(3.0)
    order: list[str] = []

    async def call(name: str, lane: Lane) -> None:
        await gate.acquire(lane)
        order.append(name)

    tasks = [asyncio.create_task(call(f"b{n}", Lane.BATCH)) for n in range(3)]
    await settle()
    tasks.append(asyncio.create_task(call("i", Lane.INTERACTIVE)))
    await settle()
    assert order == [] and gate.waiting() == 4
    clock.now = gate.held_until
    gate.wake()
    await settle()
    assert order == ["i"]  # one token after the pause: it goes to the interactive call
    clock.now += 1.0 / gate.rate
    gate.wake()
    await settle()
    assert order == ["i", "b0"]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_within_a_lane_the_earliest_deadline_goes_first() -> None:
    # A call sent again after a 429 keeps its caller's deadline: it is not overtaken by
    # calls that arrived while it was being refused.
    gate, pacer, clock = paced(1.0)
    pacer.limited(1.0)
    order: list[str] = []

    async def call(name: str, lane: Lane, due: float) -> None:
        await gate.acquire(lane, due=due)
        order.append(name)

    arrivals = [("new1", 30.0), ("new2", 30.0), ("retry", 12.0), ("urgent", 40.0)]
    tasks = []
    for name, due in arrivals:
        lane = Lane.URGENT if name == "urgent" else Lane.INTERACTIVE
        tasks.append(asyncio.create_task(call(name, lane, clock.now + due)))
        await settle()
    for _ in arrivals:
        clock.now = max(clock.now + 1.0 / gate.rate, gate.held_until)
        gate.wake()
        await settle()
    await asyncio.gather(*tasks)
    assert order == ["urgent", "retry", "new1", "new2"]


async def test_retune_refuses_a_nonsense_rate() -> None:
    gate, _, _ = paced()
    with pytest.raises(ValueError, match="rate"):
        gate.retune(-1.0)
