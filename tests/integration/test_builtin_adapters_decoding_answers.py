"""The gateway adapter's strictness in decoding: every off-contract answer is refused, never
guessed at; found answers become SDK records, registrations keep their shape and say why
they were cancelled, and a body nested too deep or an instant beyond the calendar is
refused, not a crash.

A scripted department (a real aiohttp server on loopback) answers exactly what each test
says, so the adapter's whole path (HTTP, status mapping, decoding) is exercised.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from hedui_sdk import (
    AssetRecord,
    CancellationReason,
    HouseholdRegistrationRecord,
    IncomeCategory,
    IncomeRecord,
    PermanentSourceError,
    RegistrationStatus,
    ResultStatus,
    TransientSourceError,
)
from hedui_sdk.builtin import GatewayAdapter
from tests import gateway_department
from tests.gateway_department import FOUND, ID_NUMBER, INCOME, TOKEN, Script, assert_absent, query

# Shared fixtures, bound here so that pytest finds them for this module's tests.
adapter = gateway_department.adapter
department = gateway_department.department


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
