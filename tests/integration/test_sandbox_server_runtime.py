"""The sandbox server at run time, over loopback HTTP: admin faults and knobs, rate limits
and latency, stopping with requests hanging, logs without ID numbers or names, and starting
and serving until SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hedui_sdk import SourceKind
from hedui_sdk.sandbox import DEFAULT_BANK_DELAY_S, SandboxHandle, SourceFaults, start_sandbox
from tests import sandbox_server_helpers
from tests.sandbox_server_helpers import assert_absent, auth, body_for, population

# Shared fixtures, bound here so that pytest finds them for this module's tests.
client = sandbox_server_helpers.client
sandbox = sandbox_server_helpers.sandbox


ADMIN = {"Authorization": "Bearer admin-secret"}
REPO_ROOT = Path(__file__).resolve().parents[2]


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
