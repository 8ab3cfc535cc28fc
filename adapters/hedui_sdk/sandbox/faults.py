"""Fault knobs of the sandbox departments: latency, errors, hangs, garbage, rate limits.

Rates are probabilities (0..1) drawn from the sandbox's seeded generator. A fault set is
immutable; the server swaps whole sets, so a request sees one consistent set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from hedui_sdk.contract import SourceKind

DEFAULT_BANK_DELAY_S = 3.0
"""How long the bank takes to answer by default: long enough that a demo shows PENDING."""


@dataclass(frozen=True, slots=True)
class SourceFaults:
    """How one sandbox department misbehaves.

    ``latency_ms`` (+ up to ``jitter_ms``) is added before every answer. ``error_rate``
    answers HTTP 503, ``hang_rate`` never answers (until the client gives up or the sandbox
    stops), ``garbage_rate`` answers 200 with a malformed body, ``deny_rate`` refuses the
    request (403, as when hedui's credentials are revoked). ``rate_limit_rps`` caps
    requests per second (429 with ``Retry-After`` beyond it); ``None`` means unlimited.
    ``async_delay_s`` makes the department asynchronous: it answers 202 with a ticket and
    the result becomes available that many seconds later; ``None`` answers at once.
    """

    latency_ms: int = 0
    jitter_ms: int = 0
    error_rate: float = 0.0
    hang_rate: float = 0.0
    garbage_rate: float = 0.0
    deny_rate: float = 0.0
    rate_limit_rps: float | None = None
    async_delay_s: float | None = None

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must not be negative")
        for name in ("error_rate", "hang_rate", "garbage_rate", "deny_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.rate_limit_rps is not None and not self.rate_limit_rps > 0:
            raise ValueError("rate_limit_rps must be positive (or null for unlimited)")
        if self.async_delay_s is not None and not self.async_delay_s >= 0:
            raise ValueError("async_delay_s must not be negative (or null for synchronous)")

    def to_json(self) -> dict[str, Any]:
        """The knobs as a JSON object (the admin endpoint's shape)."""
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> SourceFaults:
        """A copy with the knobs in ``changes`` replaced; unknown or mistyped knobs raise."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault knobs: {', '.join(unknown)}")
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            checked[key] = _checked_knob(key, value)
        return replace(self, **checked)


def _checked_knob(key: str, value: Any) -> Any:
    nullable = key in ("rate_limit_rps", "async_delay_s")
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    if key in ("latency_ms", "jitter_ms"):
        if not float(value).is_integer():
            raise ValueError(f"{key} must be a whole number")
        return int(value)
    if not math.isfinite(value):
        raise ValueError(f"{key} must be finite")
    return float(value)


def default_faults() -> dict[SourceKind, SourceFaults]:
    """The demo defaults: every department answers at once except the bank (asynchronous)."""
    plan = {source: SourceFaults() for source in SourceKind}
    plan[SourceKind.BANK] = SourceFaults(async_delay_s=DEFAULT_BANK_DELAY_S)
    return plan


class TokenBucket:
    """A request-per-second limiter: ``rate`` tokens a second, bursts up to ``max(1, rate)``."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._stamp = time.monotonic()

    def take(self) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is available."""
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate
