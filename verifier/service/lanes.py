"""Priority lanes at a source: urgent (急难) work before interactive work before batch work,
under one concurrency limit and one rate limit per source shared by all three.

A department grants hedui so many calls at once and so many a second, whoever they are
for. A re-check batch of thousands of households must not make a caseworker with a
family in front of her wait, nor an urgent case wait behind either. So each source has
one :class:`PriorityGate`:

* waiting calls are granted strictly in lane order (:class:`Lane`), and within a lane the
  call whose caller's deadline comes first goes first (first come first served among
  equal deadlines): a batch call never takes a slot or a token an urgent or interactive
  call is waiting for, and a call sent again after a 429 does not lose its place to
  calls that arrived after it;
* batch calls also leave a reserve untouched — a share of the concurrency slots and of
  the rate limit's burst — so an interactive call arriving while a batch saturates the
  source finds a slot and a token at once instead of queueing behind calls already
  granted. The reserve costs a batch nothing over time: it only keeps the bucket from
  being drained to the bottom, the batch still gets every token the rate refills.

The rate limit is a token bucket of ``max(1, rate)`` tokens refilled at ``rate`` a second
(what the sandbox's departments enforce), so hedui never sends more than a department's
own bucket of the same rate would accept. The rate is not fixed: a department's 429s
lower it and pause the gate (:meth:`PriorityGate.retune`, :meth:`PriorityGate.hold`,
driven by :mod:`verifier.service.pacing`), for every lane alike.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["DEFAULT_BATCH_RESERVE", "Lane", "PriorityGate"]

DEFAULT_BATCH_RESERVE = 0.25
"""Share of a source's slots and burst tokens that batch calls leave for other lanes."""


class Lane(IntEnum):
    """Whose call it is; a lower value goes first."""

    URGENT = 0
    """急难 checks: a family waiting for help within hours."""
    INTERACTIVE = 1
    """A check a caseworker started and is waiting for."""
    BATCH = 2
    """Batches and scheduled re-checks: nobody is waiting at a desk."""


@dataclass(order=True, slots=True)
class _Waiter:
    lane: Lane
    due: float
    seq: int
    future: asyncio.Future[None] = field(compare=False)


class PriorityGate:
    """Concurrency slots and a token bucket for one source, granted in lane order.

    ``rate`` is calls per second (0: no rate limit). ``batch_reserve`` is the share of
    slots and of the bucket's burst that batch calls leave free; the reserve is always
    smaller than the whole, so a batch alone still runs. ``clock`` is a monotonic clock
    in seconds (tests pass their own and call :meth:`wake` after moving it).
    """

    def __init__(
        self,
        max_concurrency: int,
        rate: float = 0.0,
        *,
        batch_reserve: float = DEFAULT_BATCH_RESERVE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if rate < 0 or not math.isfinite(rate):
            raise ValueError("rate must be a finite number, 0 or more")
        if not 0.0 <= batch_reserve < 1.0:
            raise ValueError("batch_reserve must be at least 0 and below 1")
        self.max_concurrency = max_concurrency
        self.rate = rate
        self._clock = clock
        self.capacity = max(1.0, rate) if rate > 0 else 0.0
        self._batch_reserve = batch_reserve
        self.reserve_slots = min(max_concurrency - 1, math.ceil(max_concurrency * batch_reserve))
        self.reserve_tokens = self._reserve_of(self.capacity)
        self._tokens = self.capacity
        self._stamp = clock()
        self._held_until = -math.inf
        self._in_flight = 0
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self.granted: dict[Lane, int] = dict.fromkeys(Lane, 0)
        """Calls granted per lane since the gate was made (for metrics and tests)."""

    def _reserve_of(self, capacity: float) -> float:
        return min(capacity - 1.0, math.floor(capacity * self._batch_reserve)) if capacity else 0.0

    # ------------------------------------------------------------------ pacing
    @property
    def held_until(self) -> float:
        """Until when (on the gate's clock) nothing is granted; in the past when not held."""
        return self._held_until

    def retune(self, rate: float) -> None:
        """Change the rate (calls per second, 0: unlimited) for every lane from now on:
        tokens already earned are kept, up to the new burst."""
        if rate < 0 or not math.isfinite(rate):
            raise ValueError("rate must be a finite number, 0 or more")
        self._refill()
        if not self.rate:
            # An unlimited gate earned nothing: start the new rate with one call's worth.
            self._tokens, self._stamp = 1.0, max(self._clock(), self._stamp)
        self.rate = rate
        self.capacity = max(1.0, rate) if rate > 0 else 0.0
        self.reserve_tokens = self._reserve_of(self.capacity)
        self._tokens = min(self._tokens, self.capacity)
        self._dispatch()

    def hold(self, until: float) -> None:
        """Grant nothing before ``until`` (the gate's clock), as a department asked with
        Retry-After; then one call may go at once and the rest at the rate."""
        if until <= self._held_until:
            return
        self._refill()
        self._held_until = until
        if self.rate:
            # Tokens do not accrue while held: the department's own bucket refilled only
            # enough for the wait it named, not for a burst on top of it.
            self._tokens, self._stamp = min(self._tokens, 1.0), until
        self._dispatch()

    # ------------------------------------------------------------------ state
    @property
    def in_flight(self) -> int:
        return self._in_flight

    def waiting(self, lane: Lane | None = None) -> int:
        """Calls waiting for a grant, in ``lane`` or in all lanes."""
        return sum(
            1 for w in self._queue if not w.future.done() and (lane is None or w.lane is lane)
        )

    def _refill(self) -> None:
        if not self.rate:
            return
        now = self._clock()
        if now < self._stamp:
            return  # held: nothing accrues before the hold ends
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def _slot_free(self, lane: Lane) -> bool:
        reserve = self.reserve_slots if lane is Lane.BATCH else 0
        return self._in_flight < self.max_concurrency - reserve

    def _tokens_short(self, lane: Lane) -> float:
        """How many tokens ``lane`` still lacks (0 when it may go)."""
        if not self.rate:
            return 0.0
        need = 1.0 + (self.reserve_tokens if lane is Lane.BATCH else 0.0)
        return max(0.0, need - self._tokens)

    def _take(self, lane: Lane) -> None:
        self._in_flight += 1
        if self.rate:
            self._tokens -= 1.0
        self.granted[lane] += 1

    # ------------------------------------------------------------------ acquire / release
    def try_acquire(self, lane: Lane) -> bool:
        """Take a slot and a token now if ``lane`` may go without waiting (nobody is
        queued and the limits allow it); False leaves nothing taken."""
        self._refill()
        if self._held():
            return False
        if not self._pending() and self._slot_free(lane) and not self._tokens_short(lane):
            self._take(lane)
            return True
        return False

    async def acquire(self, lane: Lane, *, due: float = math.inf) -> None:
        """Wait for a slot and a token in ``lane``'s turn; ``due`` (the caller's deadline,
        any clock as long as every caller uses the same) orders calls within a lane.
        Cancellation (a deadline) while waiting leaves nothing taken."""
        if self.try_acquire(lane):
            return
        loop = asyncio.get_running_loop()
        waiter = _Waiter(lane, due, next(self._seq), loop.create_future())
        heapq.heappush(self._queue, waiter)
        self._dispatch()
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release()  # granted as we were cancelled: hand it on
            else:
                waiter.future.cancel()
                self._dispatch()  # the head may have been us
            raise

    def release(self) -> None:
        """Give back a slot taken by :meth:`acquire` (tokens are spent, not returned)."""
        if self._in_flight <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self._in_flight -= 1
        self._dispatch()

    @asynccontextmanager
    async def slot(self, lane: Lane) -> AsyncIterator[None]:
        await self.acquire(lane)
        try:
            yield
        finally:
            self.release()

    def wake(self) -> None:
        """Grant whatever the clock now allows (a test moving its own clock calls this)."""
        self._dispatch()

    # ------------------------------------------------------------------ dispatch
    def _pending(self) -> bool:
        while self._queue and self._queue[0].future.done():
            heapq.heappop(self._queue)  # cancelled while waiting
        return bool(self._queue)

    def _held(self) -> bool:
        return self._clock() < self._held_until

    def _dispatch(self) -> None:
        """Grant the head of the queue while it can go. Strictly in order: when the head
        cannot go, nobody behind it goes either (a lower lane never overtakes)."""
        self._refill()
        if self._held():
            if self._pending():
                self._wake_in(self._held_until - self._clock())
            return
        while self._pending():
            head = self._queue[0]
            if not self._slot_free(head.lane):
                return  # a release will call again
            short = self._tokens_short(head.lane)
            if short:
                self._wake_in(short / self.rate)
                return
            heapq.heappop(self._queue)
            self._take(head.lane)
            head.future.set_result(None)

    def _wake_in(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        at = loop.time() + seconds
        if self._timer is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        self._dispatch()
