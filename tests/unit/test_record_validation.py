"""The record check hedui and the conformance kit share: every field of its declared type."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    CancellationReason,
    HouseholdRegistrationRecord,
    Provenance,
    RegisteredMember,
    RegistrationStatus,
)
from hedui_sdk.validation import record_problems

AS_OF = datetime(2026, 10, 31, 15, 59, 59, tzinfo=UTC)
HOUSE = AssetRecord(
    AssetCategory.REAL_ESTATE,
    "residential",
    19_678_680,
    Provenance("real_estate", "gw", "1.0", "R-1", AS_OF),
    area_m2=Decimal("38.36"),
    details={"usage": "住宅"},
)


def test_a_well_formed_record_has_no_problems() -> None:
    assert record_problems(HOUSE, "real_estate") == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"value_fen": 1.5}, "value_fen must be an int (fen), not float"),
        ({"value_fen": True}, "value_fen must be an int (fen), not bool"),
        ({"value_fen": 2**64}, "value_fen is beyond what int64 fen can carry"),
        ({"count": -1}, "count must not be negative"),
        ({"category": "real_estate"}, "category must be a hedui_sdk.AssetCategory, not str"),
        ({"area_m2": 38.36}, "area_m2 must be a Decimal or None, not float"),
        ({"area_m2": Decimal("NaN")}, "area_m2 must be a finite, non-negative Decimal"),
        ({"details": {"floors": 2}}, "details must map str to str"),
        ({"details": ["usage"]}, "details must be a mapping of str to str, not list"),
    ],
)
def test_each_field_is_checked(change: dict[str, object], problem: str) -> None:
    assert record_problems(replace(HOUSE, **change), "real_estate") == [problem]  # type: ignore[arg-type]


def test_provenance_must_name_the_source_and_be_complete() -> None:
    assert record_problems(HOUSE, "bank") == ["provenance.source is 'real_estate', not 'bank'"]
    local = replace(HOUSE.provenance, as_of=AS_OF.astimezone(timezone(timedelta(hours=8))))
    assert record_problems(replace(HOUSE, provenance=local), "real_estate") == [
        "provenance.as_of must be an aware UTC datetime"
    ]


def test_problems_never_quote_a_value() -> None:
    secret = "370281197205093712"
    problems = record_problems(replace(HOUSE, kind=123, details={"owner": 1}), "real_estate")  # type: ignore[arg-type, dict-item]
    assert problems and all(secret not in p and "123" not in p for p in problems)


def test_a_look_alike_is_not_a_record() -> None:
    assert record_problems({"value_fen": 1}, "real_estate") == ["dict is not an SDK record type"]
    assert record_problems(date(2026, 1, 1), "tax") == ["date is not an SDK record type"]


HUKOU = HouseholdRegistrationRecord(
    "370281",
    (RegisteredMember("resident_id", "370281197205093712", "测试", "self"),),
    Provenance("household_registration", "gw", "1.0", "HR-1", AS_OF),
    "HK370281000001",
)
DEAD = replace(
    HUKOU,
    status=RegistrationStatus.CANCELLED,
    cancel_reason=CancellationReason.DEATH,
    cancelled_on=date(2026, 9, 30),
)


def test_a_registration_is_in_force_or_cancelled_with_a_reason() -> None:
    assert record_problems(HUKOU, "household_registration") == []
    assert record_problems(DEAD, "household_registration") == []
    assert record_problems(replace(DEAD, cancelled_on=None), "household_registration") == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": "cancelled"}, "status must be a hedui_sdk.RegistrationStatus, not str"),
        (
            {"cancel_reason": None},
            "cancel_reason must be a hedui_sdk.CancellationReason, not NoneType",
        ),
        (
            {"cancel_reason": "death"},
            "cancel_reason must be a hedui_sdk.CancellationReason, not str",
        ),
        (
            {"cancelled_on": datetime(2026, 9, 30, tzinfo=UTC)},
            "cancelled_on must be a datetime.date or None, not datetime",
        ),
        (
            {"status": RegistrationStatus.ACTIVE},
            "cancel_reason and cancelled_on must be None on an active registration",
        ),
    ],
)
def test_the_registration_status_is_checked(change: dict[str, object], problem: str) -> None:
    assert record_problems(replace(DEAD, **change), "household_registration") == [problem]  # type: ignore[arg-type]
