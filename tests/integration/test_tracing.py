"""OpenTelemetry traces of one verification: the real reference adapters over HTTP to the
sandbox, a real grpc.aio server, both databases, spans kept by an in-memory exporter.

One trace from the gRPC call: a span for every member x source, each with the adapter's
HTTP request under it, the assessment, the signing and the database statements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from hedui_sdk import SourceKind
from hedui_sdk.sandbox import SandboxHandle, start_sandbox
from tests.fakes import AllowAllConsents
from tests.helpers import config
from tests.log_capture import server_log_lines
from tests.served import ServedStack
from verifier.api.client import request_from_json
from verifier.api.sandbox_files import household_doc
from verifier.bootstrap import build_app
from verifier.config import sandbox_sources
from verifier.observability import tracing

# Synchronous departments: each answers in the call (the bank answers later, by poll).
SOURCES = (SourceKind.TAX, SourceKind.REAL_ESTATE, SourceKind.VEHICLE, SourceKind.PROVIDENT_FUND)
CREATE = "/hedui.v1.VerificationService/CreateVerification"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.enable(exporter, batch=False)
    try:
        yield exporter
    finally:
        tracing.disable()


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    handle = await start_sandbox(port=0, households_per_county=20)
    yield handle
    await handle.stop()


async def test_one_verification_is_one_trace_with_a_span_for_every_source(
    spans: InMemorySpanExporter,
    sandbox: SandboxHandle,
    database_url: str,
    keys_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sources = {k: v for k, v in sandbox_sources(sandbox.port).items() if k in SOURCES}
    app = await build_app(
        config(database_url, keys_dir, sources=sources),
        migrate=False,
        consent_gate=AllowAllConsents(),
    )
    stack = await ServedStack.serve(app)
    doc = household_doc(sandbox.population, "370322", 0)
    members = doc["household"]["members"]
    with server_log_lines(capsys) as read:
        try:
            async with stack.client() as c:
                v = await c.create(request_from_json(doc, wait=True))
            assert v.latest_report_version == 1
        finally:
            await stack.close()
        logged = read()

    finished = spans.get_finished_spans()
    server = [s for s in finished if s.name == CREATE and s.kind is SpanKind.SERVER]
    assert len(server) == 1
    trace_id = server[0].context.trace_id
    # The call's access line names its trace.
    (access,) = [line for line in logged if line["event"] == "rpc" and line["method"] == CREATE]
    assert access["trace_id"] == format(trace_id, "032x")
    trace = [s for s in finished if s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in trace}

    def under(span: ReadableSpan, ancestor: ReadableSpan) -> bool:
        parent = span.parent
        while parent is not None:
            if parent.span_id == ancestor.context.span_id:
                return True
            up = by_id.get(parent.span_id)
            parent = up.parent if up is not None else None
        return False

    calls = [s for s in trace if s.name.startswith("source ")]
    asked = {
        ((s.attributes or {})["hedui.source"], (s.attributes or {})["hedui.member_index"])
        for s in calls
    }
    assert asked == {(k.value, i) for k in SOURCES for i in range(len(members))}
    for call in calls:
        assert under(call, server[0])
        http = [s for s in trace if s.kind is SpanKind.CLIENT and s.parent is not None
                and s.parent.span_id == call.context.span_id]  # fmt: skip
        assert http, f"no HTTP span under {call.name}"
        assert any(str(sandbox.port) in str(h.attributes) for h in http)
    for name in ("assess", "sign"):
        assert any(s.name == name and under(s, server[0]) for s in trace), name
    statements = [s for s in trace if s.attributes and "db.statement" in s.attributes]
    assert statements and all(under(s, server[0]) for s in statements)
    # The audit append's head update (on PostgreSQL the entries themselves go by COPY,
    # which SQLAlchemy does not see).
    assert any("UPDATE audit_head" in str((s.attributes or {})["db.statement"]) for s in statements)

    # Nothing personal in any span: no ID number, no name.
    text = repr([(s.name, dict(s.attributes or {})) for s in finished])
    for m in members:
        assert m["id_number"] not in text
        assert m["name"] not in text
