"""``[tracing] otlp_endpoint``: spans reach a real OTLP/gRPC collector — here a grpc.aio
server speaking the OpenTelemetry collector's TraceService — named by ``service_name``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, make_app
from tests.observability_helpers import household_request
from tests.served import ServedStack
from verifier.config import TracingConfig
from verifier.observability import tracing


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: object
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, int]]:
    server = grpc.aio.server()
    servicer = Collector()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, port
    await server.stop(0)


async def test_spans_are_exported_over_otlp_to_the_configured_collector(
    collector: tuple[Collector, int], database_url: str, keys_dir: Path
) -> None:
    received, port = collector
    config = TracingConfig(otlp_endpoint=f"http://127.0.0.1:{port}", service_name="hedui-test")
    try:
        # build_app installs tracing from the configuration, before the server exists.
        app = await make_app(
            database_url,
            keys_dir,
            {SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 1})},
            tracing=config,
        )
        stack = await ServedStack.serve(app)
        try:
            async with stack.client() as c:
                await c.create(household_request("otlp-1", APPLICANT_ID))
        finally:
            await stack.close()
    finally:
        # Flushes the batch to the collector (the exporter blocks its thread meanwhile).
        await asyncio.to_thread(tracing.disable)

    spans = [
        (resource.resource, span)
        for request in received.requests
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    names = {span.name for _, span in spans}
    assert {"/hedui.v1.VerificationService/CreateVerification", "source tax", "sign"} <= names
    services = {
        attr.value.string_value
        for resource, _ in spans
        for attr in resource.attributes
        if attr.key == "service.name"
    }
    assert services == {"hedui-test"}
    assert APPLICANT_ID not in str(received.requests)
