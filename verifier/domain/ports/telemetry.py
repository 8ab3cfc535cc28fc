"""What the use cases tell the operator's metrics, and what storage reports on demand.

The use cases call :class:`SourceMetrics`; the base class records nothing, so a fan-out
built without metrics (tests, the command line) pays one method call per source answer.
``verifier.observability.metrics`` implements it on Prometheus. :class:`GaugeReader`
is read when the metrics endpoint is scraped: queue depths and the audit log's size
and newest checkpoint, counted in the database, so every replica reports the same.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime


class SourceMetrics:
    """Told of every source answer and every circuit-breaker change; records nothing."""

    def source_answered(self, source: str, status: str, seconds: float, attempts: int) -> None:
        """One member × source call ended with ``status`` after ``attempts`` tries
        (retries are ``attempts - 1``), ``seconds`` after it began (waits included)."""

    def breaker_changed(self, source: str, state: str) -> None:
        """The source's circuit breaker is now ``state``: closed, opened or half-opened."""


@dataclass(frozen=True, slots=True)
class Gauges:
    """Work waiting in the database, and the audit log's state, at one moment."""

    polls_pending: int
    """Asynchronous sources (banks) still to be asked again."""
    rechecks_pending: int
    """Scheduled re-checks due and not started."""
    webhooks_pending: int
    """Webhook deliveries not yet acknowledged (outbox events not yet dispatched included)."""
    audit_entries: int
    """Entries in the audit log (its tree size)."""
    checkpoint_at: datetime | None
    """When the newest signed checkpoint was made; None before the first."""
    checkpoint_size: int
    """The tree size the newest checkpoint covers (0 before the first)."""


class GaugeReader(abc.ABC):
    @abc.abstractmethod
    async def read(self) -> Gauges:
        """Count now (a few cheap reads, no lock taken)."""


class StoreMetrics:
    """Told of every group-committed batch and every write's wait; records nothing."""

    def batch_committed(self, units: int, entries: int) -> None:
        """A group commit wrote ``units`` units of work and ``entries`` audit entries in
        one transaction."""

    def write_finished(self, seconds: float) -> None:
        """A unit of work (with the audit entries it appends) committed ``seconds`` after
        it was handed to the group committer."""
