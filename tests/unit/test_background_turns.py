"""Background work takes the event loop while checks wait for their sources: one turn per
fan-out that began since its last, at once when nothing is being checked, and never
refused longer than its bound."""

from __future__ import annotations

import asyncio
import time
from datetime import date

from hedui_sdk import IdType, SourceKind, SourceQuery, SourceResult
from tests.fakes import AS_OF, FakeAdapter, synthetic_id
from tests.helpers import household_draft
from verifier.domain.household import MemberDraft, Relation, VerificationRequest, validate_request
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources
from verifier.service.runs import Runs
from verifier.service.turns import BackgroundTurns


class Held(FakeAdapter):
    """Answers only when the test lets it; tells when a call arrived."""

    def __init__(self) -> None:
        super().__init__(SourceKind.TAX)
        self.arrived = asyncio.Event()
        self.go = asyncio.Event()

    async def query(self, q: SourceQuery) -> SourceResult:
        self.arrived.set()
        await self.go.wait()
        return SourceResult.not_found(AS_OF)


def request(seq: int) -> VerificationRequest:
    draft = household_draft(
        f"r-{seq}",
        members=(
            MemberDraft(
                IdType.RESIDENT_ID, synthetic_id(seq=seq, born=date(1970, 1, 1)), "甲",
                Relation.APPLICANT,
            ),
        ),
    )  # fmt: skip
    return validate_request(draft, today=date(2026, 12, 1))


def fanout_of(adapter: Held) -> FanOut:
    return FanOut(
        bind_sources({SourceKind.TAX: adapter}, {SourceKind.TAX: SourcePolicy(retries=0)})
    )


def asking(fanout: FanOut, seq: int) -> asyncio.Task[object]:
    return asyncio.create_task(
        fanout.run(request(seq), request_id=f"v-{seq}", deadline=time.monotonic() + 30)
    )


async def test_nothing_being_checked_takes_the_loop_after_the_settle_time() -> None:
    adapter = Held()
    turns = BackgroundTurns(Runs(), fanout_of(adapter), settle=0.01, at_most=30)
    await asyncio.wait_for(turns.take(), 5)


async def test_a_check_being_taken_in_is_waited_for_until_its_calls_are_out() -> None:
    adapter, runs = Held(), Runs()
    fanout = fanout_of(adapter)
    turns = BackgroundTurns(runs, fanout, settle=30, at_most=30)
    with runs.ahead():  # a check being authorized and recorded
        turn = asyncio.create_task(turns.take())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not turn.done()
        fan = asking(fanout, 1)
        await asyncio.wait_for(adapter.arrived.wait(), 5)
        await asyncio.wait_for(turn, 5)  # taken while the department is being waited for
        assert not fan.done()

        # One turn per fan-out: the next waits for the next fan-out (or for quiet).
        again = asyncio.create_task(turns.take())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not again.done()
        adapter.go.set()
        await asyncio.wait_for(fan, 5)
        assert not again.done()  # the check is being released: still not its turn
        adapter.go, adapter.arrived = asyncio.Event(), asyncio.Event()
        second = asking(fanout, 2)
        await asyncio.wait_for(adapter.arrived.wait(), 5)
        await asyncio.wait_for(again, 5)
        assert not second.done()
        adapter.go.set()
        await asyncio.wait_for(second, 5)


async def test_a_check_that_starts_within_the_settle_time_goes_first() -> None:
    adapter, runs = Held(), Runs()
    fanout = fanout_of(adapter)
    turns = BackgroundTurns(runs, fanout, settle=30, at_most=30)
    turn = asyncio.create_task(turns.take())
    await asyncio.sleep(0)
    with runs.ahead():  # the caller's next check, right after its previous reply
        await asyncio.sleep(0)
        assert not turn.done()
        adapter.go.set()
        await asyncio.wait_for(asking(fanout, 1), 5)
        await asyncio.wait_for(turn, 5)


async def test_a_turn_is_never_refused_longer_than_its_bound() -> None:
    adapter, runs = Held(), Runs()
    turns = BackgroundTurns(runs, fanout_of(adapter), settle=30, at_most=0.05)
    with runs.ahead():  # busy all along, no fan-out ever begins
        await asyncio.wait_for(turns.take(), 5)
