"""The fan-out asks a source in lane order: a check that arrives while batch calls are
queued at the source's gate is asked before them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date

from hedui_sdk import IdType, SourceKind, SourceQuery, SourceResult
from tests.fakes import AS_OF, FakeAdapter, synthetic_id
from tests.helpers import household_draft
from verifier.domain.household import MemberDraft, Relation, validate_request
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources
from verifier.service.lanes import Lane


class OneAtATime(FakeAdapter):
    """Holds each call until the test lets it through; records who was asked, in order."""

    def __init__(self) -> None:
        super().__init__(SourceKind.TAX)
        self.asked: list[str] = []
        self.arrived = asyncio.Condition()
        self.go = asyncio.Semaphore(0)

    async def query(self, q: SourceQuery) -> SourceResult:
        async with self.arrived:
            self.asked.append(q.subject.id_number)
            self.arrived.notify_all()
        await self.go.acquire()
        return SourceResult.not_found(AS_OF)


async def until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until ``condition`` holds (no time passes)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


def household(request_id: str, seq: int) -> object:
    draft = household_draft(
        request_id,
        members=(
            MemberDraft(
                IdType.RESIDENT_ID, synthetic_id(seq=seq, born=date(1970, 1, 1)), "甲",
                Relation.APPLICANT,
            ),
        ),
    )  # fmt: skip
    return validate_request(draft, today=date(2026, 12, 1))


async def test_an_urgent_and_an_interactive_check_overtake_queued_batch_calls() -> None:
    adapter = OneAtATime()
    fanout = FanOut(
        bind_sources(
            {SourceKind.TAX: adapter},
            {SourceKind.TAX: SourcePolicy(max_concurrency=1, retries=0, timeout=30)},
        )
    )
    gate = fanout.gate(SourceKind.TAX)
    assert gate is not None
    deadline = time.monotonic() + 30

    def run(seq: int, lane: Lane) -> asyncio.Task[object]:
        req = household(f"r-{seq}", seq)
        return asyncio.create_task(
            fanout.run(req, request_id=f"v-{seq}", deadline=deadline, lane=lane)  # type: ignore[arg-type]
        )

    tasks = [run(1, Lane.BATCH)]
    async with adapter.arrived:
        await adapter.arrived.wait_for(lambda: len(adapter.asked) == 1)
    tasks += [run(2, Lane.BATCH), run(3, Lane.BATCH)]
    await until(lambda: gate.waiting(Lane.BATCH) == 2)
    tasks += [run(4, Lane.INTERACTIVE), run(5, Lane.URGENT)]
    await until(lambda: gate.waiting() == 4)
    for _ in range(5):
        adapter.go.release()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    order = [int(number[14:17]) for number in adapter.asked]
    assert order == [1, 5, 4, 2, 3]
