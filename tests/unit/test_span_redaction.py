"""What leaves the process of a span: nothing shaped like a resident ID number in its
name, attributes, events, links or status; a span without one is passed on as it is."""

from __future__ import annotations

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode

from tests.fakes import synthetic_id
from verifier.observability.span_redaction import RedactingExporter

NUMBER = synthetic_id(seq=21)
CONTEXT = SpanContext(trace_id=7, span_id=9, is_remote=False)


def span(text: str) -> ReadableSpan:
    return ReadableSpan(
        name=f"GET {text}",
        context=CONTEXT,
        attributes={"http.url": f"http://h/{text}", "list": ("a", text), "n": 3},
        events=[Event("exception", {"exception.message": f"url=http://h/{text}"}, 11)],
        links=[Link(CONTEXT, {"why": text})],
        kind=SpanKind.CLIENT,
        status=Status(StatusCode.ERROR, f"failed for {text}"),
        start_time=10,
        end_time=12,
    )


def test_an_id_number_anywhere_in_a_span_is_replaced_before_export() -> None:
    inner = InMemorySpanExporter()
    assert RedactingExporter(inner).export([span(NUMBER)]) is SpanExportResult.SUCCESS
    (out,) = inner.get_finished_spans()
    assert out.name == "GET [REDACTED-ID]"
    assert dict(out.attributes or {}) == {
        "http.url": "http://h/[REDACTED-ID]",
        "list": ("a", "[REDACTED-ID]"),
        "n": 3,
    }
    assert [(e.name, dict(e.attributes or {}), e.timestamp) for e in out.events] == [
        ("exception", {"exception.message": "url=http://h/[REDACTED-ID]"}, 11)
    ]
    assert [dict(link.attributes or {}) for link in out.links] == [{"why": "[REDACTED-ID]"}]
    assert out.status.status_code is StatusCode.ERROR
    assert out.status.description == "failed for [REDACTED-ID]"
    assert (out.context, out.kind, out.start_time, out.end_time) == (
        CONTEXT,
        SpanKind.CLIENT,
        10,
        12,
    )


def test_a_span_without_an_id_number_is_exported_unchanged() -> None:
    inner = InMemorySpanExporter()
    clean = span("persons")
    RedactingExporter(inner).export([clean])
    assert inner.get_finished_spans() == (clean,)
