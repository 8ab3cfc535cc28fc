"""The loop every background worker of the server runs: rounds until told to stop.

A round's failure is logged and the loop goes on: the work it was doing stays in the
database (leased, queued or due) and is taken again by the next round, here or in
another replica. Cancellation always ends the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from structlog.typing import FilteringBoundLogger


def _did_work(done: int) -> bool:
    return done > 0


async def pause(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    """Wait ``seconds``, or less when ``stop`` (or ``wake``) is set."""
    if wake is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        return
    pending = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(pending, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for p in pending:
            p.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def run_rounds(
    round_: Callable[[], Awaitable[int]],
    stop: asyncio.Event,
    interval: float,
    *,
    log: FilteringBoundLogger,
    failed: str,
    again: Callable[[int], bool] = _did_work,
    wake: Callable[[], asyncio.Event] | None = None,
) -> None:
    """Run ``round_`` until ``stop`` is set.

    ``round_`` returns how much it did; when ``again`` says so of that figure the next
    round starts at once, otherwise the loop pauses ``interval`` (less when ``stop``, or
    the event ``wake`` returns, is set). A failed round counts as 0 and is logged as the
    event ``failed`` on ``log`` with the error's type only: its message may hold personal data.
    """
    while not stop.is_set():
        try:
            done = await round_()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(failed, error=type(exc).__name__)
            done = 0
        if again(done):
            continue
        await pause(stop, interval, wake() if wake is not None else None)


__all__ = ["pause", "run_rounds"]
