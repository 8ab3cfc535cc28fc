from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    CancellationReason,
    ContributionRecord,
    HouseholdRegistrationRecord,
    IncomeCategory,
    IncomeRecord,
    Provenance,
    RegisteredMember,
    RegistrationStatus,
)
from tests.fakes import synthetic_id
from verifier.domain.records_codec import records_from_json, records_to_json

P = Provenance("tax", "a", "1.0", "R-1", datetime(2026, 10, 31, 8, 30, tzinfo=UTC))


def test_every_record_type_round_trips_exactly() -> None:
    records = (
        IncomeRecord(
            IncomeCategory.WAGES, "salary", date(2026, 1, 1), date(2026, 1, 31), 312_345, P, "某厂"
        ),
        AssetRecord(
            AssetCategory.REAL_ESTATE,
            "residence",
            45_000_000,
            P,
            1,
            Decimal("86.42"),
            {"use": "住宅"},
        ),
        AssetRecord(AssetCategory.VEHICLE, "motorcycle", 300_000, P),
        ContributionRecord(
            "pension", date(2026, 1, 1), date(2026, 6, 30), 420_000, 201_600, P, "某厂"
        ),
        HouseholdRegistrationRecord(
            "370322",
            (RegisteredMember("resident_id", synthetic_id(seq=9), "测试", "self"),),
            P,
            "H-1",
        ),
        HouseholdRegistrationRecord(
            "370322",
            (RegisteredMember("resident_id", synthetic_id(seq=10), "测试", "spouse"),),
            P,
            "H-1",
            RegistrationStatus.CANCELLED,
            CancellationReason.DEATH,
            date(2026, 9, 30),
        ),
    )
    assert records_from_json(records_to_json(records)) == records


def test_a_registration_sealed_before_it_had_a_status_reads_back_in_force() -> None:
    member = RegisteredMember("resident_id", synthetic_id(seq=9), "测试", "self")
    active = HouseholdRegistrationRecord("370322", (member,), P, "H-1")
    (stored,) = records_to_json((active,))
    assert "status" not in stored  # the bytes of a registration in force do not change
    assert records_from_json([stored]) == (active,)
    assert active.status is RegistrationStatus.ACTIVE and active.cancel_reason is None
