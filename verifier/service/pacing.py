"""Pacing a source to what its department accepts: slow down on a rate limit, speed up
again as answers come (additive increase, multiplicative decrease).

A department that answers 429 is up; it is asking hedui to call less often. So a rate
limit never counts as a failure (the circuit breaker ignores it); instead the source's
:class:`~verifier.service.lanes.PriorityGate`, shared by every check using the source,

* sends nothing until the department's ``Retry-After`` has passed (or, without one, for
  one call's interval at the new pace);
* lowers its rate to :data:`DECREASE` of the pace it was keeping (for a source with no
  configured rate, the answers it got in the last :data:`WINDOW` seconds are that pace);
* raises it again by about one call a second for every second of answers, up to the
  configured rate (none: without bound, so a department that lifts its limit gets back
  its full speed).

All calls rejected by one burst say the same thing: the rate is lowered once per pause,
not once per rejected call. The gate keeps granting in lane order, so the capacity there
is goes to urgent calls, then interactive calls, then batches.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from verifier.service.lanes import PriorityGate

__all__ = ["DECREASE", "MIN_RATE", "WINDOW", "Pacer"]

DECREASE = 0.7
"""Share of the pace kept after a rate limit (a gentler cut than halving: the department's
own answers tell the pace, so little is lost to probing)."""

MIN_RATE = 0.1
"""The slowest pace (calls per second): a department is always asked again eventually."""

WINDOW = 1.0
"""Seconds of recent answers that measure the pace of a source with no configured rate."""


class Pacer:
    """Adapts one source's gate to the department's answers.

    ``ceiling`` is the configured rate (0: none); ``clock`` is the gate's monotonic clock.
    """

    def __init__(
        self,
        gate: PriorityGate,
        ceiling: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gate = gate
        self._ceiling = ceiling
        self._clock = clock
        self._answers: deque[float] = deque()
        self._calm_from = -math.inf
        self.limited_count = 0
        """Rate-limit answers seen (for metrics and benchmarks)."""
        self.decreases = 0
        """Times the pace was lowered."""

    @property
    def rate(self) -> float:
        """The pace now (calls per second, 0: unlimited)."""
        return self._gate.rate

    @property
    def limiting(self) -> bool:
        """Whether the department has rate-limited this source and the pace is held below
        the configured one (or below none)."""
        return self.decreases > 0 and (not self._ceiling or self._gate.rate < self._ceiling)

    def answered(self) -> None:
        """The department answered (whatever the answer): it accepted the call."""
        now = self._clock()
        self._answers.append(now)
        while self._answers and self._answers[0] <= now - WINDOW:
            self._answers.popleft()
        rate = self._gate.rate
        if not rate or self.decreases == 0:
            return  # not paced by us: the configured rate (or none) stands
        raised = rate + 1.0 / rate
        if self._ceiling:
            raised = min(raised, self._ceiling)
        if raised != rate:
            self._gate.retune(raised)

    def limited(self, retry_after: float | None) -> None:
        """The department refused a call as too many (``retry_after`` seconds, if it said)."""
        now = self._clock()
        self.limited_count += 1
        while self._answers and self._answers[0] <= now - WINDOW:
            self._answers.popleft()
        if now >= self._calm_from:
            pace = self._gate.rate or len(self._answers) / WINDOW
            self._gate.retune(max(MIN_RATE, pace * DECREASE))
            self.decreases += 1
        wait = retry_after if retry_after and retry_after > 0 else 1.0 / self._gate.rate
        self._gate.hold(now + wait)
        # Calls sent before the pause may still come back 429: they say nothing new.
        self._calm_from = max(self._calm_from, now + wait)
