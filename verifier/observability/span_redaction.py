"""The last step before a span leaves the process: anything like a resident ID number in
its name, attributes, events, links or status becomes a marker.

The instrumentations record what the libraries hand them; an exception's message and
stack (aiohttp's ``TooManyRedirects`` names the URL, an adapter's error may name its
subject) would otherwise reach the collector as they are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status
from opentelemetry.util.types import Attributes

from hedui_sdk.masking import ID_LIKE, redact


def _value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return tuple(_value(v) for v in value)
    return value


def _attributes(attributes: Attributes) -> dict[str, Any]:
    return {redact(k): _value(v) for k, v in (attributes or {}).items()}


def _carries_id(span: ReadableSpan) -> bool:
    texts = [span.name, span.status.description or "", repr(dict(span.attributes or {}))]
    texts += [e.name + repr(dict(e.attributes or {})) for e in span.events]
    texts += [repr(dict(link.attributes or {})) for link in span.links]
    return any(ID_LIKE.search(t) for t in texts)


def redacted(span: ReadableSpan) -> ReadableSpan:
    """``span`` itself when it carries nothing like an ID number, else a copy with each
    one replaced."""
    if not _carries_id(span):
        return span
    return ReadableSpan(
        name=redact(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_attributes(span.attributes),
        events=[Event(redact(e.name), _attributes(e.attributes), e.timestamp) for e in span.events],
        links=[Link(link.context, _attributes(link.attributes)) for link in span.links],
        kind=span.kind,
        status=Status(span.status.status_code, redact(span.status.description or "") or None),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingExporter(SpanExporter):
    """Exports through ``inner`` what :func:`redacted` leaves of each span."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([redacted(s) for s in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
