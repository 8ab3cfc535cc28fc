"""How hard to try one source, and how gently: the one type the configuration file's
``[sources.NAME]`` knobs are read into and the fan-out obeys.

The bounds are part of the type (``annotated_types`` constraints): the configuration
enforces them when it reads a file or the environment, so no operator value outside
them reaches the fan-out. Code may build a policy directly (tests use tiny backoffs);
it is trusted to stay sane.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated

from annotated_types import Interval

# Upper bounds are sanity limits: a larger value is a typo (milliseconds for seconds),
# not a deployment choice.
Timeout = Annotated[float, Interval(gt=0, le=600)]
Retries = Annotated[int, Interval(ge=0, le=10)]
Concurrency = Annotated[int, Interval(ge=1, le=1024)]
RatePerSecond = Annotated[float, Interval(ge=0, le=100_000)]
Share = Annotated[float, Interval(ge=0, lt=1)]
Threshold = Annotated[int, Interval(ge=1, le=10_000)]
ResetSeconds = Annotated[float, Interval(ge=0, le=86_400)]
BackoffSeconds = Annotated[float, Interval(gt=0, le=600)]
ReuseDays = Annotated[int, Interval(ge=0, le=366)]
DueWorkingDays = Annotated[int, Interval(ge=0, le=60)]


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """How hard to try one source, and how gently.

    ``timeout`` bounds one attempt; ``retries`` transient failures are retried with
    exponential backoff and jitter; at most ``max_concurrency`` calls are in flight and
    at most ``rate_limit`` start per second (0: unlimited), shared by every check in lane
    order (urgent, interactive, batch); after ``breaker_threshold``
    consecutive failures the circuit opens for ``breaker_reset`` seconds, during which
    calls fail at once instead of piling onto a source that is down.

    A department's rate-limit answer (429, ``SourceRateLimited``) is not a failure: it
    does not count towards the breaker or use up ``retries``; the source is paced instead
    (its ``Retry-After`` waited out, the pace lowered and raised again as answers come,
    never above ``rate_limit``), and only what cannot be sent within the check's deadline
    fails as "rate limited".
    """

    timeout: Timeout = 10.0
    retries: Retries = 2
    max_concurrency: Concurrency = 8
    rate_limit: RatePerSecond = 0.0
    batch_reserve: Share = 0.25
    """Share of the concurrency slots and rate-limit burst batch calls leave free."""
    breaker_threshold: Threshold = 5
    breaker_reset: ResetSeconds = 30.0
    backoff_initial: BackoffSeconds = 0.2
    backoff_max: BackoffSeconds = 5.0
    reuse_days: ReuseDays = 0
    """Reuse an earlier definite answer about the same subject this many days (0: never)."""
    due_working_days: DueWorkingDays = 1
    """An asynchronous answer is overdue after this many working days."""


POLICY_KNOBS: tuple[str, ...] = tuple(f.name for f in fields(SourcePolicy))
"""The names a ``[sources.NAME]`` table accepts besides the adapter's own keys."""
