"""The sandbox server itself, spoken to in raw protocol v1 over loopback HTTP: answers that
follow the protocol, windows, the asynchronous bank, authentication, and refused queries.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hedui_sdk import SourceKind
from hedui_sdk.sandbox import DEFAULT_BANK_DELAY_S, SandboxHandle, describe, start_sandbox
from hedui_sdk.sandbox.facts import IncomeFact
from tests import sandbox_server_helpers
from tests.sandbox_server_helpers import assert_absent, auth, body_for, population

# Shared fixtures, bound here so that pytest finds them for this module's tests.
client = sandbox_server_helpers.client
sandbox = sandbox_server_helpers.sandbox


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
