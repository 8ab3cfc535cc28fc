"""The gateway adapter's strictness: every off-contract answer is refused, never guessed at.

A scripted department (a real aiohttp server on loopback) answers exactly what each test
says, so the adapter's whole path (HTTP, status mapping, decoding) is exercised.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hedui_sdk import (
    AssetRecord,
    CancellationReason,
    HouseholdRegistrationRecord,
    IdType,
    IncomeCategory,
    IncomeRecord,
    PermanentSourceError,
    RegistrationStatus,
    ResultStatus,
    Secret,
    SourceDenied,
    SourceKind,
    SourceQuery,
    Subject,
    TransientSourceError,
    Window,
    mask_id_number,
    resident_id,
)
from hedui_sdk.builtin import GatewayAdapter
from hedui_sdk.builtin.decoding import retry_after_seconds
from hedui_sdk.contract import AdapterSettings

ID_NUMBER = resident_id.make("370281", date(1972, 5, 9), 37)
SUBJECT = Subject(IdType.RESIDENT_ID, ID_NUMBER, "李四")
TOKEN = "department-token-xyz"


def assert_absent(secret: str, text: str) -> None:
    """Fail if ``secret`` (an ID number or name) shows in ``text``, without printing it."""
    if secret and secret in text:
        raise AssertionError(f"found {mask_id_number(secret)} ({len(secret)} chars) in output")


INCOME = {
    "type": "income",
    "record_id": "T-1",
    "category": "wages",
    "kind": "salary",
    "period_start": "2025-03-01",
    "period_end": "2025-03-31",
    "amount_fen": 185000,
    "payer": "某公司",
}
ASSET = {
    "type": "asset",
    "record_id": "R-1",
    "category": "real_estate",
    "kind": "residential",
    "value_fen": 19678680,
    "count": 1,
    "area_m2": "38.36",
    "details": {"usage": "住宅"},
}
FOUND: dict[str, Any] = {
    "status": "FOUND",
    "as_of": "2025-12-31T23:59:59+08:00",
    "records": [INCOME, ASSET],
}


@dataclass
class Script:
    """What the scripted department answers next, and what it was asked."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)
    hang: bool = False
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = headers or {}


@pytest.fixture
async def department() -> AsyncIterator[tuple[Script, str]]:
    script = Script()

    async def handle(request: web.Request) -> web.Response:
        script.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": await request.read(),
            }
        )
        if script.hang:
            await script.released.wait()
        return web.Response(
            status=script.status,
            body=script.body,
            headers=script.headers,
            content_type="application/json",
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield script, f"http://127.0.0.1:{port}/dept/"
    finally:
        script.released.set()
        await runner.cleanup()


@pytest.fixture
async def adapter(department: tuple[Script, str]) -> AsyncIterator[GatewayAdapter]:
    _, base = department
    settings = AdapterSettings(base_url=base, credentials={"token": Secret(TOKEN)}, timeout=5)
    gateway = GatewayAdapter(SourceKind.REAL_ESTATE, "test-gateway", "9.9.9", settings)
    try:
        yield gateway
    finally:
        await gateway.aclose()


def query() -> SourceQuery:
    return SourceQuery(
        subject=SUBJECT,
        window=Window(date(2025, 1, 1), date(2025, 12, 31)),
        region="370281",
        purposes=("dibao", "tekun"),
        request_id="req-42",
        deadline=time.monotonic() + 5,
    )


async def test_request_follows_the_protocol(
    department: tuple[Script, str], adapter: GatewayAdapter
) -> None:
    script, _ = department
    script.answer(200, FOUND)
    await adapter.query(query())
    (seen,) = script.seen
    assert seen["method"] == "POST"
    assert seen["path"] == "/dept/gateway/v1/query"
    assert seen["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert seen["headers"]["x-request-id"] == "req-42"
    sent = json.loads(seen["body"])
    # Compared as a boolean so that a failure does not print the ID number.
    subject_ok = sent.pop("subject") == {
        "id_type": "resident_id",
        "id_number": ID_NUMBER,
        "name": "李四",
    }
    assert subject_ok
    assert sent == {
        "source": "real_estate",
        "window": {"start": "2025-01-01", "end": "2025-12-31"},
        "region": "370281",
        "purposes": ["dibao", "tekun"],
    }


async def test_found_answer_becomes_sdk_records(
    department: tuple[Script, str], adapter: GatewayAdapter
) -> None:
    script, _ = department
    script.answer(200, FOUND)
    result = await adapter.query(query())
    assert result.status is ResultStatus.FOUND
    assert result.as_of == datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC)
    income, asset = result.records
    assert isinstance(income, IncomeRecord)
    assert income.category is IncomeCategory.WAGES
    assert income.amount_fen == 185000
    assert income.period_start == date(2025, 3, 1)
    assert income.provenance.record_id == "T-1"
    assert income.provenance.adapter == "test-gateway"
    assert income.provenance.adapter_version == "9.9.9"
    assert income.provenance.source == "real_estate"
    assert isinstance(asset, AssetRecord)
    assert asset.area_m2 == Decimal("38.36")
    assert asset.details == {"usage": "住宅"}


async def test_record_as_of_overrides_the_answers(
    department: tuple[Script, str], adapter: GatewayAdapter
) -> None:
    script, _ = department
    body = copy.deepcopy(FOUND)
    body["records"][0]["as_of"] = "2025-04-10T00:00:00Z"
    body["records"][0]["unknown_extra_field"] = "ignored"
    script.answer(200, body)
    result = await adapter.query(query())
    assert result.records[0].provenance.as_of == datetime(2025, 4, 10, tzinfo=UTC)
    assert result.records[1].provenance.as_of == result.as_of


def broken(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """FOUND with one field replaced (``...`` deletes it)."""
    body = copy.deepcopy(FOUND)
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


OFF_CONTRACT: list[Any] = [
    b"<html>oops</html>",
    b'{"status": "FOUND", "as_of": "2025-',
    b"\xff\xfe not utf-8",
    [],
    {"status": "MAYBE", "as_of": "2025-12-31T00:00:00Z"},
    {"status": "PENDING", "ticket": "t", "retry_after": 1},  # PENDING needs 202
    {"status": "FOUND", "as_of": "2025-12-31T00:00:00Z", "records": []},
    {"status": "NOT_FOUND", "as_of": "2025-12-31T00:00:00Z", "records": [INCOME]},
    broken(("as_of",), ...),
    broken(("as_of",), "2025-12-31T00:00:00"),  # no offset
    broken(("as_of",), "yesterday"),
    broken(("records",), {"0": INCOME}),
    broken(("records", 0, "amount_fen"), 185000.0),
    broken(("records", 0, "amount_fen"), 1850.5),
    broken(("records", 0, "amount_fen"), "185000"),
    broken(("records", 0, "amount_fen"), True),
    broken(("records", 0, "amount_fen"), -100),
    broken(("records", 0, "amount_fen"), 2**63),
    broken(("records", 0, "amount_fen"), ...),
    broken(("records", 0, "category"), "salary"),
    broken(("records", 0, "period_start"), "2025-02-30"),
    broken(("records", 0, "period_start"), "20250301"),
    broken(("records", 0, "period_end"), "2025-02-01"),
    broken(("records", 0, "record_id"), ""),
    broken(("records", 0, "type"), "pension"),
    broken(("records", 1, "value_fen"), 19678680.0),
    broken(("records", 1, "value_fen"), -1),
    broken(("records", 1, "area_m2"), 38.36),
    broken(("records", 1, "area_m2"), "38,36"),
    broken(("records", 1, "count"), 1.0),
    broken(("records", 1, "details"), {"usage": 1}),
    broken(("records", 1, "category"), "gold"),
    broken(("records", 1), "not an object"),
    # Full matches on ASCII (issue 12): no trailing newline, no other script's digits.
    broken(("as_of",), "2025-12-31T00:00:00Z\n"),
    broken(("as_of",), "２025-12-31T00:00:00Z"),
    broken(("records", 0, "period_start"), "2025-03-01\n"),
    broken(("records", 0, "period_start"), "2025-0３-01"),
    broken(("records", 1, "area_m2"), "38.36\n"),
    broken(("records", 1, "area_m2"), "３8.36"),
]


@pytest.mark.parametrize("body", OFF_CONTRACT, ids=lambda b: str(b)[:40])
async def test_off_contract_answers_are_permanent(
    department: tuple[Script, str], adapter: GatewayAdapter, body: Any
) -> None:
    script, _ = department
    script.answer(200, body)
    with pytest.raises(PermanentSourceError) as caught:
        await adapter.query(query())
    assert_absent(ID_NUMBER, str(caught.value))
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None


async def test_negative_business_income_is_a_loss_not_an_error(
    department: tuple[Script, str], adapter: GatewayAdapter
) -> None:
    script, _ = department
    body = broken(("records", 0, "amount_fen"), -250000)
    body["records"][0]["category"] = "business"
    script.answer(200, body)
    result = await adapter.query(query())
    assert isinstance(result.records[0], IncomeRecord)
    assert result.records[0].amount_fen == -250000


def registration(record_id: str) -> dict[str, Any]:
    """A 户口簿 record of protocol v1 listing one person."""
    member = {"id_type": "resident_id", "id_number": ID_NUMBER, "name": "李四", "relation": "self"}
    return {
        "type": "household_registration",
        "record_id": record_id,
        "household_number": "HK1",
        "region_code": "370281",
        "members": [member],
    }


async def test_household_registration_shape(
    department: tuple[Script, str], adapter: GatewayAdapter
) -> None:
    script, _ = department
    record = registration("HR-1")
    script.answer(200, {"status": "FOUND", "as_of": "2025-12-31T00:00:00Z", "records": [record]})
    result = await adapter.query(query())
    assert result.records[0].provenance.record_id == "HR-1"
    bad: dict[str, Any]
    for bad in ({"members": []}, {"region_code": "3702"}, {"members": [{"id_type": 1}]}):
        script.answer(
            200,
            {"status": "FOUND", "as_of": "2025-12-31T00:00:00Z", "records": [record | bad]},
        )
        with pytest.raises(PermanentSourceError):
            await adapter.query(query())


async def test_a_cancelled_registration_says_why_and_an_unknown_status_is_off_contract(
    department: tuple[Script, str], adapter: GatewayAdapter
) -> None:
    script, _ = department
    record = registration("HR-E1")

    def answer(extra: dict[str, Any]) -> None:
        body = {"status": "FOUND", "as_of": "2025-12-31T00:00:00Z", "records": [record | extra]}
        script.answer(200, body)

    answer({})
    (active,) = (await adapter.query(query())).records
    assert isinstance(active, HouseholdRegistrationRecord)
    assert active.status is RegistrationStatus.ACTIVE and active.cancel_reason is None
    answer({"status": "cancelled", "cancel_reason": "death", "cancelled_on": "2025-09-30"})
    (dead,) = (await adapter.query(query())).records
    assert isinstance(dead, HouseholdRegistrationRecord)
    assert dead.status is RegistrationStatus.CANCELLED
    assert dead.cancel_reason is CancellationReason.DEATH
    assert dead.cancelled_on == date(2025, 9, 30)
    answer({"status": "cancelled", "cancel_reason": "moved_out"})  # the day is optional
    (moved,) = (await adapter.query(query())).records
    assert isinstance(moved, HouseholdRegistrationRecord)
    assert moved.cancel_reason is CancellationReason.MOVED_OUT and moved.cancelled_on is None
    for bad in (
        {"status": "CANCELLED", "cancel_reason": "death"},  # full match, lower case
        {"status": "revoked"},
        {"status": "cancelled"},  # a cancelled registration says why
        {"status": "cancelled", "cancel_reason": "deceased"},
        {"status": "cancelled", "cancel_reason": ["death"]},
        {"status": "cancelled", "cancel_reason": "death", "cancelled_on": "2025-9-30"},
        {"status": "cancelled", "cancel_reason": "death", "cancelled_on": "2025-02-30"},
        {"status": "active", "cancel_reason": "death"},  # in force, yet a reason
        {"cancelled_on": "2025-09-30"},
        {"status": 1},
    ):
        answer(bad)
        with pytest.raises(PermanentSourceError) as refused:
            await adapter.query(query())
        assert "records[0]." in str(refused.value) and ID_NUMBER not in str(refused.value)


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
        (429, {"Retry-After": "7"}, TransientSourceError, 7.0),
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


async def test_a_deeply_nested_body_is_refused_not_a_crash(
    department: tuple[Script, str], adapter: GatewayAdapter
) -> None:
    script, _ = department
    script.answer(200, b"[" * 200_000)
    with pytest.raises(PermanentSourceError):
        await adapter.query(query())
    # On an error status the body only lends its code: the status decides (503: retry).
    script.answer(503, b"[" * 200_000)
    with pytest.raises(TransientSourceError):
        await adapter.query(query())


async def test_an_instant_beyond_the_calendar_is_refused(
    department: tuple[Script, str], adapter: GatewayAdapter
) -> None:
    script, _ = department
    script.answer(200, broken(("as_of",), "9999-12-31T23:59:59-01:00"))
    with pytest.raises(PermanentSourceError):
        await adapter.query(query())
