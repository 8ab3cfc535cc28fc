"""The gateway adapter's strictness in transport: HTTP statuses and Retry-After, pending
answers and polls, settings, schemes and CA files checked at creation, the deadline, a
token that never shows, and an answer cut short (transient).

A scripted department (a real aiohttp server on loopback) answers exactly what each test
says, so the adapter's whole path (HTTP, status mapping, decoding) is exercised.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hedui_sdk import (
    PermanentSourceError,
    ResultStatus,
    Secret,
    SourceDenied,
    SourceKind,
    SourceQuery,
    SourceRateLimited,
    TransientSourceError,
)
from hedui_sdk.builtin import GatewayAdapter
from hedui_sdk.builtin.decoding import retry_after_seconds
from hedui_sdk.contract import AdapterSettings
from tests import gateway_department
from tests.gateway_department import FOUND, ID_NUMBER, TOKEN, Script, assert_absent, query

# Shared fixtures, bound here so that pytest finds them for this module's tests.
adapter = gateway_department.adapter
department = gateway_department.department


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (401, {}, SourceDenied, None),
        (403, {}, SourceDenied, None),
        (400, {}, PermanentSourceError, None),
        (404, {}, PermanentSourceError, None),
        (422, {}, PermanentSourceError, None),
        (302, {"Location": "http://elsewhere.invalid/"}, PermanentSourceError, None),
        (408, {}, TransientSourceError, None),
        (429, {"Retry-After": "7"}, SourceRateLimited, 7.0),
        (500, {}, TransientSourceError, None),
        (502, {"Retry-After": "2.5"}, TransientSourceError, 2.5),
        (503, {"Retry-After": "soon"}, TransientSourceError, None),
    ],
)
async def test_http_status_mapping(
    department: tuple[Script, str],
    adapter: GatewayAdapter,
    status: int,
    headers: dict[str, str],
    error: type[Exception],
    retry_after: float | None,
) -> None:
    script, _ = department
    script.answer(
        status, {"error": {"code": "SOME_CODE", "message": f"about {ID_NUMBER}"}}, headers
    )
    with pytest.raises(error) as caught:
        await adapter.query(query())
    assert type(caught.value) is error  # a 503 is an outage, only a 429 a rate limit
    message = str(caught.value)
    assert str(status) in message
    assert "SOME_CODE" in message
    assert_absent(ID_NUMBER, message)  # the department's free text is not copied
    if isinstance(caught.value, TransientSourceError):
        assert caught.value.retry_after == retry_after


async def test_pending_answer_and_poll(
    department: tuple[Script, str], adapter: GatewayAdapter
) -> None:
    script, _ = department
    script.answer(202, {"status": "PENDING", "ticket": "abc-123_~.x", "retry_after": 2.5})
    pending = await adapter.query(query())
    assert pending.status is ResultStatus.PENDING
    assert pending.ticket == "abc-123_~.x"
    assert pending.retry_after == 2.5
    script.answer(202, {"status": "PENDING", "ticket": "abc-123_~.x"}, {"Retry-After": "4"})
    again = await adapter.poll("abc-123_~.x")
    assert again.retry_after == 4.0
    assert script.seen[-1]["method"] == "GET"
    assert script.seen[-1]["path"] == "/dept/gateway/v1/tickets/abc-123_~.x"
    assert script.seen[-1]["headers"]["authorization"] == f"Bearer {TOKEN}"
    script.answer(200, FOUND)
    done = await adapter.poll("abc-123_~.x")
    assert done.status is ResultStatus.FOUND


@pytest.mark.parametrize(
    "body",
    [
        {"status": "PENDING"},
        {"status": "PENDING", "ticket": ""},
        {"status": "PENDING", "ticket": "a/b"},
        {"status": "PENDING", "ticket": "t", "retry_after": -1},
        {"status": "PENDING", "ticket": "t", "retry_after": "soon"},
        {"status": "FOUND", "ticket": "t"},
    ],
)
async def test_bad_pending_answers_are_permanent(
    department: tuple[Script, str], adapter: GatewayAdapter, body: Any
) -> None:
    script, _ = department
    script.answer(202, body)
    with pytest.raises(PermanentSourceError):
        await adapter.query(query())


def test_retry_after_header_forms() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("-1") is None
    assert retry_after_seconds("nan") is None
    assert retry_after_seconds("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("whenever") is None


def test_the_token_never_shows() -> None:
    settings = AdapterSettings(
        base_url="http://127.0.0.1:9/x", credentials={"token": Secret(TOKEN)}
    )
    gateway = GatewayAdapter(SourceKind.TAX, "t", "1", settings)
    assert TOKEN not in repr(gateway)
    assert TOKEN not in repr(settings)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="token"):
        GatewayAdapter(
            SourceKind.TAX,
            "t",
            "1",
            AdapterSettings(base_url="http://127.0.0.1:9/x", credentials={"token": Secret("")}),
        )
    with pytest.raises(ValueError, match="timeout"):
        GatewayAdapter(
            SourceKind.TAX,
            "t",
            "1",
            AdapterSettings(
                base_url="http://127.0.0.1:9/x", credentials={"token": Secret("x")}, timeout=0
            ),
        )


async def test_unsupported_scheme_is_permanent() -> None:
    settings = AdapterSettings(base_url="ftp://127.0.0.1/x", credentials={"token": Secret("x")})
    gateway = GatewayAdapter(SourceKind.TAX, "t", "1", settings)
    try:
        with pytest.raises(PermanentSourceError, match="scheme"):
            await gateway.query(query())
    finally:
        await gateway.aclose()


async def test_the_deadline_shortens_the_timeout(
    department: tuple[Script, str], adapter: GatewayAdapter
) -> None:
    script, _ = department
    script.hang = True
    q = query()
    soon = SourceQuery(
        q.subject, q.window, q.region, q.purposes, q.request_id, time.monotonic() + 0.2
    )
    # settings.timeout is 5 s; the query's deadline (0.2 s) wins.
    with pytest.raises(TransientSourceError, match=r"within 0\.[0-2]\d?s"):
        await adapter.query(soon)


def test_a_missing_ca_file_fails_at_creation(tmp_path: Path) -> None:
    settings = AdapterSettings(
        base_url="https://127.0.0.1:9/x",
        credentials={"token": Secret("x")},
        options={"ca_file": str(tmp_path / "no-such-ca.pem")},
    )
    with pytest.raises(OSError, match="No such file"):
        GatewayAdapter(SourceKind.TAX, "t", "1", settings)


async def raw_department(response: bytes) -> tuple[asyncio.Server, str]:
    """A department that answers every connection with ``response`` verbatim, then hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(response)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/"


async def test_an_answer_cut_short_is_transient_so_a_pending_bank_is_asked_again() -> None:
    # Content-Length promises 100 bytes; the connection closes after 10.
    server, base = await raw_department(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"status":'
    )
    settings = AdapterSettings(base_url=base, credentials={"token": Secret(TOKEN)}, timeout=5)
    bank = GatewayAdapter(SourceKind.BANK, "test-gateway", "9.9.9", settings)
    try:
        with pytest.raises(TransientSourceError) as caught:
            await bank.poll("T1")
        assert caught.value.__cause__ is None
    finally:
        await bank.aclose()
        server.close()
