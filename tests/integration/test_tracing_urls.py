"""An adapter's HTTP span records where it went (scheme, host, port), never the path or
query of its URL: a department's API may carry the subject's ID number there
(``GET /persons/{sfzh}``, ``?sfzh=``), and a trace is shipped to a collector that must
hold no personal data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.fakes import synthetic_id
from verifier.observability import tracing

NUMBER = synthetic_id(seq=41)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.enable(exporter, batch=False)
    try:
        yield exporter
    finally:
        tracing.disable()


@pytest.fixture
async def department() -> AsyncIterator[str]:
    """A department API keyed by ID number in the path; ``/moved/...`` redirects forever."""

    async def person(request: web.Request) -> web.Response:
        return web.json_response({"sfzh_seen": len(request.match_info["sfzh"])})

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/moved/{request.match_info['sfzh']}?sfzh={NUMBER}")

    app = web.Application()
    app.router.add_get("/persons/{sfzh}", person)
    app.router.add_post("/persons/{sfzh}", person)
    app.router.add_get("/moved/{sfzh}", moved)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def everything_recorded(span: ReadableSpan) -> str:
    """Every text a span carries to the collector: name, attributes, events."""
    parts = [span.name, repr(dict(span.attributes or {}))]
    for event in span.events:
        parts += [event.name, repr(dict(event.attributes or {}))]
    return "\n".join(parts)


async def test_an_id_number_in_an_adapters_url_is_in_no_span(
    spans: InMemorySpanExporter, department: str
) -> None:
    # Created after tracing is on: sessions are instrumented when made, as an adapter's are.
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{department}/persons/{NUMBER}?sfzh={NUMBER}&q=1") as r:
            assert r.status == 200
        async with session.post(f"{department}/persons/{NUMBER}", params={"id": NUMBER}) as r:
            assert r.status == 200
        with pytest.raises(aiohttp.TooManyRedirects):
            async with session.get(f"{department}/moved/{NUMBER}", max_redirects=2):
                pass

    client = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert [s.name for s in client] == ["GET", "POST", "GET"]
    for span in client:
        recorded = everything_recorded(span)
        assert NUMBER not in recorded
        assert NUMBER[:6] + NUMBER[6:14] not in recorded  # not even unmasked in parts
        attributes = dict(span.attributes or {})
        urls = [attributes[k] for k in ("http.url", "url.full") if k in attributes]
        assert urls and all(u == department for u in urls)
    assert client[2].status.is_ok is False
