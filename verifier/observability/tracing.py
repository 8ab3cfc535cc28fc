"""OpenTelemetry traces: one trace per RPC, through the fan-out to every source's HTTP
call, the assessment, the signing and the database statements.

Off unless ``[tracing] otlp_endpoint`` is set. On, it installs one tracer provider for
the process (spans batched to the OTLP/gRPC exporter) and the standard
instrumentations: the grpc.aio server interceptor (the trace starts at the call, or
continues the caller's W3C ``traceparent``), aiohttp's client (each adapter's HTTP
request, with ``traceparent`` sent on to the department) and SQLAlchemy (each
statement, on the engines :func:`instrument_engines` is given). The fan-out, the
assessment and the signing make their own spans through the OpenTelemetry API, which
records nothing while no provider is installed.

Spans carry methods, sources, statuses and SQL text with bound parameters left out
(SQLAlchemy's instrumentation records the statement, never its values): no personal
data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from verifier.config import TracingConfig


class _Switch(Sampler, SpanProcessor):
    """The process's one sampler and span processor. A tracer provider is installed once
    per process (OpenTelemetry's rule), so turning tracing off, or pointing it at
    another exporter, goes through here instead."""

    def __init__(self) -> None:
        self.sampler: Sampler | None = None
        self.processor: SpanProcessor | None = None

    # Sampler
    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        if self.sampler is None:
            return SamplingResult(Decision.DROP)
        return self.sampler.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "hedui" if self.sampler is None else self.sampler.get_description()

    # SpanProcessor
    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        if self.processor is not None:
            self.processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self.processor is not None:
            self.processor.on_end(span)

    def shutdown(self) -> None:
        if self.processor is not None:
            self.processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.processor.force_flush(timeout_millis) if self.processor else True


_switch = _Switch()
_provider: TracerProvider | None = None
_grpc = GrpcAioInstrumentorServer()  # type: ignore[no-untyped-call]
_http = AioHttpClientInstrumentor()
_sql = SQLAlchemyInstrumentor()


def enable(
    exporter: SpanExporter,
    *,
    service_name: str = "hedui",
    sample_ratio: float = 1.0,
    batch: bool = True,
) -> None:
    """Trace from now on to ``exporter`` (``batch=False``: each span exported as it ends,
    for tests). Call before the server is built: the gRPC server and aiohttp's client
    sessions are instrumented when they are created."""
    global _provider
    if _provider is None:
        _provider = TracerProvider(
            sampler=_switch, resource=Resource.create({"service.name": service_name})
        )
        _provider.add_span_processor(_switch)
        trace.set_tracer_provider(_provider)
    disable()
    _switch.processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    _switch.sampler = ParentBased(TraceIdRatioBased(sample_ratio))
    _grpc.instrument(tracer_provider=_provider)
    _http.instrument(tracer_provider=_provider)


def enabled() -> bool:
    return _switch.sampler is not None


def instrument_engines(engines: Sequence[AsyncEngine]) -> None:
    """A span for each statement run on ``engines`` (a server's read and write engines)."""
    if not enabled() or _provider is None:
        return
    if _sql.is_instrumented_by_opentelemetry:
        _sql.uninstrument()
    unique = list({id(e.sync_engine): e.sync_engine for e in engines}.values())
    # The instrumentation declares SQLAlchemy < 2.1 and would skip itself on 2.1; the
    # engine events it listens to are unchanged in 2.1, and the tracing test proves the
    # statement spans are there.
    _sql.instrument(tracer_provider=_provider, engines=unique, skip_dep_check=True)


def disable() -> None:
    """Stop tracing: flush and drop the exporter, remove the instrumentations."""
    processor, _switch.processor, _switch.sampler = _switch.processor, None, None
    if processor is not None:
        processor.shutdown()
    for instrumentor in (_grpc, _http, _sql):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


def configure(config: TracingConfig) -> bool:
    """Tracing as ``[tracing]`` says; False (and nothing installed) without an endpoint."""
    if not config.otlp_endpoint:
        return False
    # Imported here: the exporter pulls in its own gRPC stubs, needed only when tracing.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(
        endpoint=config.otlp_endpoint, insecure=config.otlp_endpoint.startswith("http://")
    )
    enable(exporter, service_name=config.service_name, sample_ratio=config.sample_ratio)
    return True
