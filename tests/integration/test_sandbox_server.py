"""The sandbox server itself, spoken to in raw protocol v1 over loopback HTTP."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hedui_sdk import SourceKind, mask_id_number
from hedui_sdk.sandbox import (
    DEFAULT_BANK_DELAY_S,
    Person,
    Population,
    SandboxHandle,
    SourceFaults,
    describe,
    generate_population,
    start_sandbox,
)
from hedui_sdk.sandbox.facts import IncomeFact


@functools.cache
def population() -> Population:
    return generate_population(3, households_per_county=30)


def body_for(
    person: Person, source: SourceKind, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    as_of = population().as_of
    body: dict[str, Any] = {
        "source": source.value,
        "subject": {"id_type": "resident_id", "id_number": person.id_number, "name": person.name},
        "window": {"start": (as_of - timedelta(days=364)).isoformat(), "end": as_of.isoformat()},
        "region": "370305",
        "purposes": ["dibao"],
    }
    body.update(overrides or {})
    return body


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    handle = await start_sandbox(population=population(), admin_token="admin-secret")
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
async def client(sandbox: SandboxHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        yield http


def auth(sandbox: SandboxHandle, source: SourceKind) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.token(source)}"}


ADMIN = {"Authorization": "Bearer admin-secret"}
REPO_ROOT = Path(__file__).resolve().parents[2]


def assert_absent(secret: str, text: str) -> None:
    """Fail if ``secret`` (an ID number or name) shows in ``text``, without printing it."""
    if secret and secret in text:
        raise AssertionError(f"found {mask_id_number(secret)} ({len(secret)} chars) in output")


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert set(response.json()["sources"]) == {s.value for s in SourceKind}


async def test_port_zero_binds_a_free_port(sandbox: SandboxHandle) -> None:
    assert sandbox.port > 0
    assert sandbox.base_url("tax") == f"http://127.0.0.1:{sandbox.port}/tax"


async def test_found_answer_follows_the_protocol(
    sandbox: SandboxHandle, client: httpx.AsyncClient
) -> None:
    person = next(population().persons_with(SourceKind.TAX))
    response = await client.post(
        "/tax/gateway/v1/query",
        json=body_for(person, SourceKind.TAX),
        headers={**auth(sandbox, SourceKind.TAX), "X-Request-Id": "req-1"},
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "FOUND"
    assert answer["as_of"].endswith("Z")
    for record in answer["records"]:
        assert record["type"] == "income"
        assert type(record["amount_fen"]) is int
        assert record["category"] in {"wages", "business", "property"}


async def test_window_selects_periods(sandbox: SandboxHandle, client: httpx.AsyncClient) -> None:
    person = next(
        p
        for p in population().persons_with(SourceKind.TAX)
        if any(
            isinstance(f, IncomeFact) and f.kind == "salary" for f in p.facts_for(SourceKind.TAX)
        )
    )
    salary = [
        f
        for f in person.facts_for(SourceKind.TAX)
        if isinstance(f, IncomeFact) and f.kind == "salary"
    ]
    month = salary[-1]
    window = {"start": month.period_start.isoformat(), "end": month.period_end.isoformat()}
    response = await client.post(
        "/tax/gateway/v1/query",
        json=body_for(person, SourceKind.TAX, {"window": window}),
        headers=auth(sandbox, SourceKind.TAX),
    )
    ids = {r["record_id"] for r in response.json()["records"] if r["kind"] == "salary"}
    assert ids == {month.record_id}


async def test_bank_is_asynchronous_by_default(
    sandbox: SandboxHandle, client: httpx.AsyncClient
) -> None:
    assert sandbox.faults()[SourceKind.BANK].async_delay_s == DEFAULT_BANK_DELAY_S
    person = next(population().persons_with(SourceKind.BANK))
    response = await client.post(
        "/bank/gateway/v1/query",
        json=body_for(person, SourceKind.BANK),
        headers=auth(sandbox, SourceKind.BANK),
    )
    assert response.status_code == 202
    answer = response.json()
    assert answer["status"] == "PENDING"
    assert 0 < answer["retry_after"] <= DEFAULT_BANK_DELAY_S
    assert int(response.headers["Retry-After"]) >= 1
    assert_absent(person.id_number, answer["ticket"])
    polled = await client.get(
        f"/bank/gateway/v1/tickets/{answer['ticket']}", headers=auth(sandbox, SourceKind.BANK)
    )
    assert polled.status_code == 202
    # A ticket belongs to its department only.
    elsewhere = await client.get(
        f"/tax/gateway/v1/tickets/{answer['ticket']}", headers=auth(sandbox, SourceKind.TAX)
    )
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"]["code"] == "UNKNOWN_TICKET"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "UNAUTHENTICATED"),
        ({"Authorization": "Basic dGF4OnRheA=="}, 401, "UNAUTHENTICATED"),
        ({"Authorization": "Bearer wrong"}, 403, "FORBIDDEN"),
        ({"Authorization": "Bearer sandbox-bank-token"}, 403, "FORBIDDEN"),
    ],
)
async def test_authentication(
    client: httpx.AsyncClient, headers: dict[str, str], status: int, code: str
) -> None:
    person = next(population().persons())
    response = await client.post(
        "/tax/gateway/v1/query", json=body_for(person, SourceKind.TAX), headers=headers
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_custom_tokens_replace_the_defaults() -> None:
    handle = await start_sandbox(population=population(), tokens={"tax": "s3cret"})
    try:
        assert handle.token("tax") == "s3cret"
        assert handle.token("bank") == "sandbox-bank-token"
        async with httpx.AsyncClient(base_url=handle.url) as http:
            person = next(population().persons())
            refused = await http.post(
                "/tax/gateway/v1/query",
                json=body_for(person, SourceKind.TAX),
                headers={"Authorization": "Bearer sandbox-tax-token"},
            )
            accepted = await http.post(
                "/tax/gateway/v1/query",
                json=body_for(person, SourceKind.TAX),
                headers={"Authorization": "Bearer s3cret"},
            )
        assert refused.status_code == 403
        assert accepted.status_code == 200
        summary = describe(handle)
        assert "s3cret" not in summary
        assert "sandbox-bank-token" in summary
    finally:
        await handle.stop()


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"source": "bank"}, 422, "SOURCE_MISMATCH"),
        ({"region": "3703"}, 422, "INVALID_REQUEST"),
        ({"purposes": []}, 422, "INVALID_REQUEST"),
        ({"window": {"start": "2025-12-31", "end": "2025-01-01"}}, 422, "INVALID_REQUEST"),
        ({"window": {"start": "2025-02-30", "end": "2025-03-01"}}, 422, "INVALID_REQUEST"),
        (
            {"subject": {"id_type": "resident_id", "id_number": "370305199001011230", "name": "x"}},
            422,
            "INVALID_ID_NUMBER",
        ),
        ({"subject": {"id_type": "alien", "id_number": "1", "name": "x"}}, 422, "INVALID_REQUEST"),
    ],
)
async def test_invalid_queries_are_refused(
    sandbox: SandboxHandle,
    client: httpx.AsyncClient,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    person = next(population().persons())
    response = await client.post(
        "/tax/gateway/v1/query",
        json=body_for(person, SourceKind.TAX, change),
        headers=auth(sandbox, SourceKind.TAX),
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert_absent(person.id_number, response.text)


async def test_body_that_is_not_json_is_400(
    sandbox: SandboxHandle, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/tax/gateway/v1/query", content=b"{nope", headers=auth(sandbox, SourceKind.TAX)
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"


async def test_unknown_source_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/weather/gateway/v1/query", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "UNKNOWN_SOURCE"


async def test_admin_faults_change_behaviour_at_runtime(
    sandbox: SandboxHandle, client: httpx.AsyncClient
) -> None:
    person = next(population().persons())
    refused = await client.post("/admin/faults", json={"sources": {"tax": {"error_rate": 1}}})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await client.post(
        "/admin/faults",
        json={"sources": {"tax": {"error_rate": 1}}},
        headers={"Authorization": "Bearer not-the-admin-token"},
    )
    assert wrong.status_code == 403
    assert sandbox.faults()[SourceKind.TAX] == SourceFaults()
    changed = await client.post(
        "/admin/faults",
        json={"sources": {"tax": {"error_rate": 1}, "*": {"latency_ms": 1}}},
        headers=ADMIN,
    )
    assert changed.status_code == 200
    assert changed.json()["sources"]["tax"]["error_rate"] == 1.0
    assert changed.json()["sources"]["bank"]["latency_ms"] == 1
    assert changed.json()["sources"]["bank"]["async_delay_s"] == DEFAULT_BANK_DELAY_S
    assert sandbox.faults()[SourceKind.VEHICLE] == SourceFaults(latency_ms=1)
    failing = await client.post(
        "/tax/gateway/v1/query",
        json=body_for(person, SourceKind.TAX),
        headers=auth(sandbox, SourceKind.TAX),
    )
    assert failing.status_code == 503
    assert failing.json()["error"]["code"] == "UNAVAILABLE"

    reset = await client.post("/admin/faults", json={"reset": True}, headers=ADMIN)
    assert reset.status_code == 200
    current = await client.get("/admin/faults", headers=ADMIN)
    assert current.json()["sources"]["tax"] == SourceFaults().to_json()
    healthy = await client.post(
        "/tax/gateway/v1/query",
        json=body_for(person, SourceKind.TAX),
        headers=auth(sandbox, SourceKind.TAX),
    )
    assert healthy.status_code == 200


@pytest.mark.parametrize(
    "sources",
    [
        {"tax": {"error_rate": 2}},
        {"tax": {"no_such_knob": 1}},
        {"weather": {"error_rate": 0.5}},
        {"tax": {"latency_ms": "slow"}},
        {"tax": {"latency_ms": 1.5}},
        {"tax": {"rate_limit_rps": 0}},
        {"tax": {"async_delay_s": -1}},
        {"tax": 3},
    ],
)
async def test_admin_refuses_bad_knobs_and_changes_nothing(
    sandbox: SandboxHandle, client: httpx.AsyncClient, sources: dict[str, Any]
) -> None:
    before = sandbox.faults()
    response = await client.post("/admin/faults", json={"sources": sources}, headers=ADMIN)
    assert response.status_code == 422
    assert sandbox.faults() == before


async def test_rate_limit_answers_429_with_retry_after(
    sandbox: SandboxHandle, client: httpx.AsyncClient
) -> None:
    await sandbox.set_faults("vehicle", rate_limit_rps=0.5)
    person = next(population().persons())
    statuses = []
    for _ in range(3):
        response = await client.post(
            "/vehicle/gateway/v1/query",
            json=body_for(person, SourceKind.VEHICLE),
            headers=auth(sandbox, SourceKind.VEHICLE),
        )
        statuses.append(response.status_code)
    assert statuses[0] == 200
    assert 429 in statuses
    assert int(response.headers["Retry-After"]) >= 1


async def test_latency_and_jitter_still_answer(
    sandbox: SandboxHandle, client: httpx.AsyncClient
) -> None:
    await sandbox.set_faults("tax", SourceFaults(latency_ms=5, jitter_ms=5))
    person = next(population().persons())
    response = await client.post(
        "/tax/gateway/v1/query",
        json=body_for(person, SourceKind.TAX),
        headers=auth(sandbox, SourceKind.TAX),
    )
    assert response.status_code == 200


async def test_an_answer_never_comes_sooner_than_the_latency(
    sandbox: SandboxHandle, client: httpx.AsyncClient
) -> None:
    # The department's work happens inside its latency, not after it; the latency
    # itself is still the least time an answer takes.
    await sandbox.set_faults("tax", SourceFaults(latency_ms=60))
    person = next(population().persons())
    started = time.monotonic()
    response = await client.post(
        "/tax/gateway/v1/query",
        json=body_for(person, SourceKind.TAX),
        headers=auth(sandbox, SourceKind.TAX),
    )
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.06
    stats = sandbox.stats()
    assert stats.get("tax:found", 0) + stats.get("tax:not_found", 0) == 1


async def test_stop_releases_hanging_requests() -> None:
    handle = await start_sandbox(
        population=population(), faults={"tax": SourceFaults(hang_rate=1.0)}
    )
    person = next(population().persons())
    async with httpx.AsyncClient(base_url=handle.url, timeout=30) as http:
        request = asyncio.create_task(
            http.post(
                "/tax/gateway/v1/query",
                json=body_for(person, SourceKind.TAX),
                headers={"Authorization": f"Bearer {handle.token('tax')}"},
            )
        )
        async with asyncio.timeout(10):
            await handle.wait_hanging(1)
            await handle.stop()
            try:
                response = await request
            except httpx.HTTPError:
                pass  # the connection was closed: equally released
            else:
                assert response.status_code == 503
    assert handle.hanging == 0
    await handle.stop()  # idempotent


async def test_logs_carry_no_id_numbers_or_names(
    sandbox: SandboxHandle, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    people = list(population().persons())[:5]
    for person in people:
        for source in (SourceKind.TAX, SourceKind.HOUSEHOLD_REGISTRATION):
            await client.post(
                f"/{source.value}/gateway/v1/query",
                json=body_for(person, source),
                headers=auth(sandbox, source),
            )
        await client.post(
            "/tax/gateway/v1/query",
            json=body_for(person, SourceKind.TAX, {"region": "x"}),
            headers=auth(sandbox, SourceKind.TAX),
        )
    assert "sandbox query" in caplog.text
    for person in people:
        assert_absent(person.id_number, caplog.text)
        assert_absent(person.name, caplog.text)


async def test_start_sandbox_generates_its_own_population() -> None:
    handle = await start_sandbox(seed=9, households_per_county=2)
    try:
        assert len(handle.population.all_households) == 10
        assert handle.population.seed == 9
        assert handle.population.as_of.day >= 28  # the end of a month
    finally:
        await handle.stop()


async def test_run_sandbox_serves_until_sigterm() -> None:
    script = (
        "from hedui_sdk.sandbox import run_sandbox\n"
        "run_sandbox(port=0, seed=4, households_per_county=2)\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            first = (await process.stdout.readline()).decode()
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", first)
        assert match, first
        async with httpx.AsyncClient(base_url=match.group(1)) as http:
            assert (await http.get("/healthz")).status_code == 200
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
