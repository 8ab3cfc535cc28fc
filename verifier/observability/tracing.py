"""OpenTelemetry traces: one trace per RPC, through the fan-out to every source's HTTP
call, the assessment, the signing and the database statements.

Off unless ``[tracing] otlp_endpoint`` is set. On, it makes a tracer provider (its
service name, its sampler, spans batched to the OTLP/gRPC exporter) behind the
process's one global provider, and installs the standard instrumentations: the
grpc.aio server interceptor (the trace starts at the call, or continues the caller's
W3C ``traceparent``), aiohttp's client (each adapter's HTTP
request, with ``traceparent`` sent on to the department) and SQLAlchemy (each
statement, on the engines :func:`instrument_engines` is given). The fan-out, the
assessment and the signing make their own spans through the OpenTelemetry API, which
records nothing while tracing is off.

Spans carry methods, sources, statuses and SQL text with bound parameters left out
(SQLAlchemy's instrumentation records the statement, never its values): no personal
data. An adapter's HTTP span keeps only the scheme, host and port of its URL: a
department's adapter may put an ID number in the path or query (``GET /persons/{sfzh}``),
and the instrumentation would otherwise record the whole URL (``http.url``/``url.full``).
Whatever else a library records (an exception's message and stack) passes
:class:`~verifier.observability.span_redaction.RedactingExporter` on its way out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yarl
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ParentBased,
    TraceIdRatioBased,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from verifier.config import TracingConfig
from verifier.observability.span_redaction import RedactingExporter


class _CurrentTracer(trace.Tracer):
    """A tracer of whichever SDK provider is current: none (tracing off) records nothing."""

    def __init__(self, name: str, version: str | None, schema_url: str | None) -> None:
        self._args = (name, version, schema_url)
        self._of: TracerProvider | None = None
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def _current(self) -> trace.Tracer:
        if self._of is not _provider:
            self._of = _provider
            self._tracer = (
                trace.NoOpTracer() if _provider is None else _provider.get_tracer(*self._args)
            )
        return self._tracer

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._current().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._current().start_as_current_span(*args, **kwargs)


class _Current(trace.TracerProvider):
    """The process's global provider (OpenTelemetry allows one, once): it hands out
    tracers of the SDK provider :func:`enable` made last, so tracing can be turned off,
    or pointed at another exporter or service name, within one process."""

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> trace.Tracer:
        return _CurrentTracer(instrumenting_module_name, instrumenting_library_version, schema_url)


_global = _Current()
_provider: TracerProvider | None = None
_grpc = GrpcAioInstrumentorServer()  # type: ignore[no-untyped-call]
_http = AioHttpClientInstrumentor()


def _origin_only(url: yarl.URL) -> str:
    """What an HTTP span records of a request's URL: scheme://host:port, never the path,
    query or credentials, where a department's API may carry a subject's ID number."""
    if not url.absolute:
        return ""
    return str(url.origin())


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
    if trace.get_tracer_provider() is not _global:
        trace.set_tracer_provider(_global)
    disable()
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        resource=Resource.create({"service.name": service_name}),
    )
    redacting = RedactingExporter(exporter)
    provider.add_span_processor(
        BatchSpanProcessor(redacting) if batch else SimpleSpanProcessor(redacting)
    )
    _provider = provider
    _grpc.instrument(tracer_provider=provider)
    _http.instrument(tracer_provider=provider, url_filter=_origin_only)


def enabled() -> bool:
    return _provider is not None


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
    global _provider
    provider, _provider = _provider, None
    for instrumentor in (_grpc, _http, _sql):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    if provider is not None:
        provider.shutdown()


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
