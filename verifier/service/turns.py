"""When background work takes the event loop: while the checks someone waits for are
waiting for their departments, not while they are being taken in or released.

A check spends most of its time with its calls out (tens of milliseconds in which the
event loop has little to do) and a few milliseconds of CPU on each side: authorizing and
recording its intent before the first call leaves, assessing, signing and storing its
report after the last answer. Background work that runs on the same loop and the same
database writer (a change comparison is a few statements, a signature and a commit)
delays a check by its whole length when it lands on either side, and a round of them
that piled up since the last one delays a check by all of them.

:class:`BackgroundTurns` gives such work one turn per fan-out that began since its last
turn, taken while that fan-out is still waiting; or at once when nothing is being
checked for a moment (a caller's next check usually follows its previous reply within a
millisecond or two: an idle loop is taken only after ``settle`` seconds without one). A
turn is never refused longer than ``at_most`` seconds, so background work is slowed,
never starved, by a stream of checks.
"""

from __future__ import annotations

import asyncio
import contextlib

from verifier.service.fanout import FanOut
from verifier.service.runs import Runs

SETTLE_S = 0.02
AT_MOST_S = 1.0


async def _any(events: list[asyncio.Event], timeout: float) -> bool:
    """Whether one of ``events`` was set within ``timeout`` seconds."""
    if any(e.is_set() for e in events):
        return True
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*waits, return_exceptions=True)
    return bool(done)


class BackgroundTurns:
    """Turns on the event loop for one kind of background work (one instance each)."""

    def __init__(
        self, runs: Runs, fanout: FanOut, *, settle: float = SETTLE_S, at_most: float = AT_MOST_S
    ) -> None:
        self._runs = runs
        self._fanout = fanout
        self._settle = settle
        self._at_most = at_most
        self._used = fanout.windows

    async def take(self) -> None:
        """Return when the caller may run one piece of background work (see the module)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._at_most
        while (left := give_up - loop.time()) > 0:
            if self._fanout.asking_since(self._used):
                break
            if self._runs.is_quiet:
                if not await _any([self._runs.busy_event], min(self._settle, left)):
                    break  # nothing is being checked: the loop is free
                continue
            # A check is being taken in or released: wait for its calls to go out.
            await _any([self._fanout.next_window(), self._runs.quiet_event], left)
        self._used = self._fanout.windows
