"""Prometheus metrics: what a running server counts, in one registry per server.

gRPC server metrics carry the names, labels and buckets of go-grpc-prometheus and
py-grpc-prometheus (``grpc_server_started_total``, ``grpc_server_handled_total``,
``grpc_server_handling_seconds``, ``grpc_server_msg_received_total``,
``grpc_server_msg_sent_total``), so the dashboards and alerts written for those work
unchanged. hedui's own metrics start with ``hedui_``. Queue depths and the audit log's
state are read from the database when the endpoint is scraped (:meth:`Metrics.refresh`).

A registry of its own per :class:`Metrics` (not the library's global one): several
servers in one process, as in the tests, do not mix their counts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from verifier.domain.ports.telemetry import GaugeReader, SourceMetrics, StoreMetrics

log = structlog.get_logger("hedui.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST

# go-grpc-prometheus and py-grpc-prometheus use Prometheus' default buckets.
GRPC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# A department answers in milliseconds to seconds; a hung one is cut at its timeout.
SOURCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Units of work per group-committed transaction (max_batch is 512).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
APPEND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

BREAKER_STATES = {"closed": 0, "half-opened": 1, "opened": 2}
"""hedui_source_breaker_state's values: 0 closed, 1 half-open (one call let through), 2 open."""

_GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")


class Metrics(SourceMetrics, StoreMetrics):
    """Every metric hedui exports, and the recording methods the ports call."""

    def __init__(self, gauges: GaugeReader | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.gauges = gauges
        """Read at each scrape; set by the composition root once the database is open."""
        r = self.registry
        self.grpc_started = Counter(
            "grpc_server_started", "Total number of RPCs started on the server.", _GRPC_LABELS,
            registry=r,
        )  # fmt: skip
        self.grpc_handled = Counter(
            "grpc_server_handled",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            (*_GRPC_LABELS, "grpc_code"),
            registry=r,
        )
        self.grpc_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level "
            "handled by the server.",
            _GRPC_LABELS,
            buckets=GRPC_BUCKETS,
            registry=r,
        )
        self.grpc_received = Counter(
            "grpc_server_msg_received", "Total number of RPC stream messages received on the "
            "server.", _GRPC_LABELS, registry=r,
        )  # fmt: skip
        self.grpc_sent = Counter(
            "grpc_server_msg_sent", "Total number of gRPC stream messages sent by the server.",
            _GRPC_LABELS, registry=r,
        )  # fmt: skip
        self.source_calls = Counter(
            "hedui_source_calls",
            "Member x source calls ended, by source and outcome status "
            "(FOUND, NOT_FOUND, PENDING, FAILED, DENIED).",
            ("source", "status"),
            registry=r,
        )
        self.source_seconds = Histogram(
            "hedui_source_call_seconds",
            "Time from the start of a member x source call to its outcome, waits and retries "
            "included.",
            ("source",),
            buckets=SOURCE_BUCKETS,
            registry=r,
        )
        self.source_retries = Counter(
            "hedui_source_retries", "Attempts after the first, by source.", ("source",),
            registry=r,
        )  # fmt: skip
        self.breaker_state = Gauge(
            "hedui_source_breaker_state",
            "The source's circuit breaker: 0 closed, 1 half-open, 2 open.",
            ("source",),
            registry=r,
        )
        self.queue_depth = Gauge(
            "hedui_queue_depth",
            "Work waiting in the database: polls (asynchronous sources to ask again), "
            "rechecks (scheduled re-checks due), webhooks (deliveries not acknowledged).",
            ("queue",),
            registry=r,
        )
        self.batch_units = Histogram(
            "hedui_group_commit_batch_units",
            "Units of work committed together in one group-commit transaction.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_entries = Counter(
            "hedui_group_commit_audit_entries",
            "Audit entries appended by group-commit transactions.",
            registry=r,
        )
        self.append_seconds = Histogram(
            "hedui_audit_append_seconds",
            "Time from handing a write and its audit entries to the group committer to its commit.",
            buckets=APPEND_BUCKETS,
            registry=r,
        )
        self.audit_entries = Gauge(
            "hedui_audit_log_entries", "Entries in the audit log (its tree size).", registry=r
        )
        self.checkpoint_age = Gauge(
            "hedui_audit_checkpoint_age_seconds",
            "Seconds since the newest signed audit checkpoint (absent before the first).",
            registry=r,
        )
        self.checkpoint_size = Gauge(
            "hedui_audit_checkpoint_size",
            "Tree size the newest signed audit checkpoint covers.",
            registry=r,
        )
        self._rpc_series: dict[tuple[str, str, str], RpcSeries] = {}
        self.scrape_errors = Counter(
            "hedui_metrics_read_errors",
            "Scrapes whose database read failed (the gauges keep their last values).",
            registry=r,
        )

    # ---------------------------------------------------------------- ports
    def source_answered(self, source: str, status: str, seconds: float, attempts: int) -> None:
        self.source_calls.labels(source, status).inc()
        self.source_seconds.labels(source).observe(seconds)
        # inc(0) too: a source that never retried shows 0, not nothing.
        self.source_retries.labels(source).inc(max(attempts - 1, 0))

    def breaker_changed(self, source: str, state: str) -> None:
        self.breaker_state.labels(source).set(BREAKER_STATES.get(state, 2))

    def batch_committed(self, units: int, entries: int) -> None:
        self.batch_units.observe(units)
        self.batch_entries.inc(entries)

    def write_finished(self, seconds: float) -> None:
        self.append_seconds.observe(seconds)

    # ---------------------------------------------------------------- gRPC
    def rpc(self, labels: tuple[str, str, str]) -> RpcSeries:
        """One method's series, looked up once: a label lookup takes a lock and hashes
        the labels, several times per call otherwise."""
        series = self._rpc_series.get(labels)
        if series is None:
            series = self._rpc_series[labels] = RpcSeries(self, labels)
        return series

    # ---------------------------------------------------------------- scrape
    async def refresh(self) -> None:
        """Read the database's gauges; a failed read keeps the last values and counts."""
        if self.gauges is None:
            return
        try:
            g = await self.gauges.read()
        except Exception as exc:
            self.scrape_errors.inc()
            log.warning("metrics_read_failed", error=type(exc).__name__)
            return
        self.queue_depth.labels("polls").set(g.polls_pending)
        self.queue_depth.labels("rechecks").set(g.rechecks_pending)
        self.queue_depth.labels("webhooks").set(g.webhooks_pending)
        self.audit_entries.set(g.audit_entries)
        self.checkpoint_size.set(g.checkpoint_size)
        if g.checkpoint_at is not None:
            age = (datetime.now(UTC) - g.checkpoint_at).total_seconds()
            self.checkpoint_age.set(max(age, 0.0))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


class RpcSeries:
    """The series of one gRPC method (type, service, method)."""

    def __init__(self, metrics: Metrics, labels: tuple[str, str, str]) -> None:
        self._metrics = metrics
        self._labels = labels
        self.started = metrics.grpc_started.labels(*labels)
        self.received = metrics.grpc_received.labels(*labels)
        self.sent = metrics.grpc_sent.labels(*labels)
        self.seconds = metrics.grpc_seconds.labels(*labels)
        self._handled: dict[str, Any] = {}

    def handled(self, code: str, seconds: float) -> None:
        counter = self._handled.get(code)
        if counter is None:
            counter = self._handled[code] = self._metrics.grpc_handled.labels(*self._labels, code)
        counter.inc()
        self.seconds.observe(seconds)
