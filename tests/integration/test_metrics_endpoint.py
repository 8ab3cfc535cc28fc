"""Prometheus metrics on their own listener, scraped over HTTP after a known sequence of
calls to a real grpc.aio server, on both databases: names, labels and values."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter, failing
from tests.helpers import APPLICANT_ID, SPOUSE_ID, make_app
from tests.observability_helpers import household_request
from tests.served import ServedStack
from verifier.config import MetricsConfig, WebhooksConfig
from verifier.domain.source_policy import SourcePolicy

SERVICE = "hedui.v1.VerificationService"
DASHBOARD = Path(__file__).parents[2] / "docker" / "grafana-dashboard.json"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def stack(database_url: str, keys_dir: Path) -> AsyncIterator[ServedStack]:
    adapters = {
        SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 98_000}),
        SourceKind.REAL_ESTATE: FakeAdapter(
            SourceKind.REAL_ESTATE, asset_fen={SPOUSE_ID: 30_000_000}
        ),
    }
    app = await make_app(
        database_url,
        keys_dir,
        adapters,
        metrics=MetricsConfig(listen="127.0.0.1:0"),
        # The outbox worker idles after its first round: what the reports put in the
        # outbox stays there to be counted.
        webhooks=WebhooksConfig(interval_seconds=3600.0),
    )
    stack = await ServedStack.serve(app)
    yield stack
    await stack.close()


async def scrape(stack: ServedStack) -> tuple[str, str]:
    endpoint = stack.app.metrics_endpoint
    assert endpoint is not None
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{endpoint.port}/metrics") as resp,
    ):
        assert resp.status == 200
        return resp.headers["Content-Type"], await resp.text()


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def rpc(method: str, **more: str) -> dict[str, str]:
    return {"grpc_service": SERVICE, "grpc_method": method, "grpc_type": "unary", **more}


async def test_metrics_count_rpcs_sources_and_the_audit_log(stack: ServedStack) -> None:
    async with stack.client() as c:
        await c.create(household_request("m-1", APPLICANT_ID, SPOUSE_ID))
        await c.create(household_request("m-2", SPOUSE_ID))
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await c.create(household_request("m-3", "370322199001011234"))  # wrong check digit
        assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    async with grpc.aio.insecure_channel(stack.target) as channel:
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())

    content_type, text = await scrape(stack)
    assert content_type.startswith("text/plain")
    found = samples(text)

    create = rpc("CreateVerification")
    assert value(found, "grpc_server_started_total", **create) == 3
    assert value(found, "grpc_server_handled_total", **create, grpc_code="OK") == 2
    assert value(found, "grpc_server_handled_total", **create, grpc_code="INVALID_ARGUMENT") == 1
    assert value(found, "grpc_server_handling_seconds_count", **create) == 3
    assert value(found, "grpc_server_handling_seconds_bucket", **create, le="+Inf") == 3
    assert value(found, "grpc_server_msg_received_total", **create) == 3
    assert value(found, "grpc_server_msg_sent_total", **create) == 2
    health = {"grpc_service": "grpc.health.v1.Health", "grpc_method": "Check"}
    assert (
        value(found, "grpc_server_handled_total", **health, grpc_type="unary", grpc_code="OK") == 1
    )

    # Three member x source calls answered FOUND (tax: applicant; real estate: spouse
    # twice) and three NOT_FOUND; none retried, the breakers closed.
    assert value(found, "hedui_source_calls_total", source="tax", status="FOUND") == 1
    assert value(found, "hedui_source_calls_total", source="tax", status="NOT_FOUND") == 2
    assert value(found, "hedui_source_calls_total", source="real_estate", status="FOUND") == 2
    assert value(found, "hedui_source_calls_total", source="real_estate", status="NOT_FOUND") == 1
    assert value(found, "hedui_source_call_seconds_count", source="tax") == 3
    assert value(found, "hedui_source_retries_total", source="tax") == 0
    assert value(found, "hedui_source_breaker_state", source="tax") == 0
    assert value(found, "hedui_source_breaker_state", source="real_estate") == 0

    audit_rows = await stack.count("audit_entries")
    assert audit_rows > 0
    assert value(found, "hedui_audit_log_entries") == audit_rows
    assert value(found, "hedui_audit_append_seconds_count") >= 2
    assert value(found, "hedui_group_commit_batch_units_count") >= 1
    assert value(found, "hedui_group_commit_batch_units_sum") >= 2
    for queue in ("polls", "rechecks"):
        assert ("hedui_queue_depth", frozenset({("queue", queue)})) in found
        assert value(found, "hedui_queue_depth", queue=queue) == 0
    outbox = await stack.rows("SELECT count(*) FROM webhook_outbox WHERE dispatched_at IS NULL")
    assert outbox[0][0] >= 2  # a report-released event per report at least
    assert value(found, "hedui_queue_depth", queue="webhooks") == outbox[0][0]
    assert value(found, "hedui_metrics_read_errors_total") == 0
    # Every metric the Grafana dashboard queries is one the server exports.
    dashboard = DASHBOARD.read_text(encoding="utf-8")
    queried = set(re.findall(r"\b(?:grpc_server|hedui)_[a-z_]+", dashboard))
    assert queried and {q for q in queried if not re.search(rf"^{q}[ {{]", text, re.M)} == set()
    # No personal data in any metric.
    for number in (APPLICANT_ID, SPOUSE_ID):
        assert number not in text


async def test_a_failing_source_is_counted_with_its_retries_and_breaker(
    database_url: str, keys_dir: Path
) -> None:
    policy = SourcePolicy(retries=2, backoff_initial=0.001, backoff_max=0.002, breaker_threshold=2)
    app = await make_app(
        database_url,
        keys_dir,
        {SourceKind.TAX: failing(SourceKind.TAX)},
        {SourceKind.TAX: policy},
        metrics=MetricsConfig(listen="127.0.0.1:0"),
    )
    stack = await ServedStack.serve(app)
    try:
        async with stack.client() as c:
            await c.create(household_request("f-1", APPLICANT_ID))
        found = samples((await scrape(stack))[1])
    finally:
        await stack.close()
    assert value(found, "hedui_source_calls_total", source="tax", status="FAILED") == 1
    # The breaker opened after its threshold: the remaining retries were refused by it.
    assert value(found, "hedui_source_breaker_state", source="tax") == 2
    assert value(found, "hedui_source_retries_total", source="tax") >= 1
