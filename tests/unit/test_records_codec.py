from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    ContributionRecord,
    HouseholdRegistrationRecord,
    IncomeCategory,
    IncomeRecord,
    Provenance,
    RegisteredMember,
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
    )
    assert records_from_json(records_to_json(records)) == records
