"""Change documents for assets (vehicles, property, businesses, deposits against the asset
limit) and for 户籍 and members (deaths, births, members added and removed, matched by
subject ref).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hedui_sdk import AssetCategory, AssetRecord, CancellationReason, SourceKind
from tests.unit.changes_helpers import (
    APPLICANT,
    BABY,
    BASE,
    CHILD,
    DIBAO_ASSET_MONTHS,
    REGION,
    SPOUSE,
    S,
    changes_between,
    check,
    codes,
    deposit,
    home,
    only,
    prov,
    vehicle,
)
from verifier.domain.changes import ChangeCode, change_document


def shop() -> AssetRecord:
    return AssetRecord(
        AssetCategory.BUSINESS,
        "individual",
        500_000,
        prov(SourceKind.BUSINESS_REGISTRATION, "BIZ-1"),
    )


def hukou_codes(doc: dict[str, Any]) -> list[str]:
    """The 户籍 codes alone: a registration change may also move program outcomes."""
    return [c for c in codes(doc) if c.startswith("HUKOU_")]


# --------------------------------------------------------------------------- assets


def test_a_new_vehicle_is_reported_for_its_member_and_source() -> None:
    doc = changes_between(BASE, BASE.with_(assets={(1, SourceKind.VEHICLE): (vehicle(),)}))
    entry = only(doc, ChangeCode.VEHICLE_ADDED)
    assert entry["member"]["index_before"] == 1 and entry["member"]["index_after"] == 1
    assert (
        entry["member"]["id_number_masked"]
        == SPOUSE.id_number[:4] + "*" * 10 + SPOUSE.id_number[-4:]
    )
    assert entry["source"] == "vehicle" and entry["category"] == "vehicle"
    assert entry["before"] == {"count": 0, "value_fen": 0}
    assert entry["after"] == {"count": 1, "value_fen": 4_500_000}
    # No non-exempt vehicle is allowed under the test policy: 低保 is refused now.
    assert codes(doc) == ["VEHICLE_ADDED", "PROGRAM_BECAME_INELIGIBLE", "PROGRAM_BECAME_INELIGIBLE"]
    dibao = next(c for c in doc["changes"] if c.get("program") == "dibao")
    assert dibao["before"]["outcome"] == "ELIGIBLE" and dibao["after"]["outcome"] == "INELIGIBLE"
    assert "dibao.vehicles" in dibao["after"]["rules"]


def test_a_vehicle_sold_is_reported_removed() -> None:
    doc = changes_between(BASE.with_(assets={(0, SourceKind.VEHICLE): (vehicle(),)}), BASE)
    entry = only(doc, ChangeCode.VEHICLE_REMOVED)
    assert entry["before"]["count"] == 1 and entry["after"]["count"] == 0
    assert "PROGRAM_BECAME_ELIGIBLE" in codes(doc)


@pytest.mark.parametrize(
    ("source", "record", "code", "program_code"),
    [
        (SourceKind.REAL_ESTATE, home(area_m2=None), ChangeCode.REAL_ESTATE_ADDED, "NEEDS_REVIEW"),
        (SourceKind.BUSINESS_REGISTRATION, shop(), ChangeCode.BUSINESS_ADDED, None),
    ],
)
def test_a_new_property_or_business_registration(
    source: SourceKind, record: AssetRecord, code: ChangeCode, program_code: str | None
) -> None:
    doc = changes_between(BASE, BASE.with_(assets={(0, source): (record,)}))
    entry = only(doc, code)
    assert entry["member"]["index_after"] == 0 and entry["source"] == source.value
    assert entry["before"]["count"] == 0 and entry["after"]["count"] == 1
    reviews = [c for c in doc["changes"] if c["code"] == "PROGRAM_NEEDS_REVIEW"]
    if program_code == "NEEDS_REVIEW":
        # A home with no recorded area cannot be held to the area limit: people review it.
        dibao = next(c for c in reviews if c["program"] == "dibao")
        assert "dibao.real_estate_area" in dibao["after"]["rules"]
    else:
        assert reviews == []


def test_business_and_property_removed() -> None:
    doc = changes_between(
        BASE.with_(
            assets={
                (0, SourceKind.REAL_ESTATE): (home(),),
                (1, SourceKind.BUSINESS_REGISTRATION): (shop(),),
            }
        ),
        BASE,
    )
    assert {"REAL_ESTATE_REMOVED", "BUSINESS_REMOVED"} <= set(codes(doc))


def test_deposits_crossing_the_asset_limit_both_ways() -> None:
    limit = S * DIBAO_ASSET_MONTHS * 2
    within = BASE.with_(assets={(0, SourceKind.BANK): (deposit(limit),)})
    above = BASE.with_(assets={(0, SourceKind.BANK): (deposit(limit + 1),)})
    up = changes_between(within, above)
    entry = only(up, ChangeCode.FINANCIAL_ASSETS_ABOVE_LIMIT)
    assert entry["program"] == "dibao" and entry["member"] is None
    assert entry["before"] == {
        "position": "within",
        "rule": "dibao.financial_assets",
        "outcome": "ELIGIBLE",
        "reference": entry["before"]["reference"],
        "financial_assets_fen": limit,
        "limit_fen": limit,
        "standard_fen": S,
        "months": DIBAO_ASSET_MONTHS,
        "household_size": 2,
    }
    assert entry["after"]["position"] == "above"
    assert entry["after"]["financial_assets_fen"] == limit + 1
    assert codes(up) == ["FINANCIAL_ASSETS_ABOVE_LIMIT", "PROGRAM_BECAME_INELIGIBLE"]
    down = changes_between(above, within)
    assert codes(down) == ["FINANCIAL_ASSETS_WITHIN_LIMIT", "PROGRAM_BECAME_ELIGIBLE"]


# --------------------------------------------------------------------------- 户籍 and members


def test_a_death_cancels_the_hukou_and_leaves_the_register() -> None:
    doc = changes_between(BASE, BASE.with_(registered=(APPLICANT,)))
    cancelled = only(doc, ChangeCode.HUKOU_CANCELLED)
    assert cancelled["member"]["index_after"] == 1
    assert cancelled["source"] == "household_registration"
    assert cancelled["before"] == {"status": "FOUND"} and cancelled["after"] == {
        "status": "NOT_FOUND"
    }
    removed = only(doc, ChangeCode.HUKOU_MEMBER_REMOVED)
    assert removed["member"]["subject_ref"] == cancelled["member"]["subject_ref"]
    assert removed["registration"]["region_code"] == REGION
    assert removed["registration"]["household_number_masked"] == "HK37******0777"
    assert removed["person"]["relation"] == "配偶"
    assert removed["before"] == {"listed": 1} and removed["after"] == {"listed": 0}
    assert codes(doc)[:2] == ["HUKOU_CANCELLED", "HUKOU_MEMBER_REMOVED"]


def test_a_death_the_registration_says_is_a_cancelled_hukou_and_not_a_removal() -> None:
    # The deceased's own answer is their registration, cancelled for death (注销原因 死亡):
    # that is the change; their leaving the family's 户口簿 is its consequence, not a
    # second change.
    died = BASE.with_(
        registered=(APPLICANT,), cancelled=(SPOUSE,), cancel_reason=CancellationReason.DEATH
    )
    doc = changes_between(BASE, died)
    assert hukou_codes(doc) == ["HUKOU_CANCELLED"]
    # The programs still count the spouse the family declared: they now go to staff.
    assert "PROGRAM_NEEDS_REVIEW" in codes(doc)
    cancelled = only(doc, ChangeCode.HUKOU_CANCELLED)
    assert cancelled["member"]["index_after"] == 1
    assert cancelled["source"] == "household_registration"
    assert cancelled["cancel_reason"] == "death"
    assert cancelled["before"] == {"status": "FOUND", "registration": "active"}
    assert cancelled["after"] == {"status": "FOUND", "registration": "cancelled"}
    # No date of death, no record id, no name: only what the reason code says.
    assert "2025-09-30" not in json.dumps(doc) and "HR-E" not in json.dumps(doc)
    # Checked again later, the death is not news.
    assert changes_between(died, died)["changes"] == []


def test_a_registration_cancelled_before_both_checks_or_missing_before_is_no_change() -> None:
    died = BASE.with_(
        registered=(APPLICANT,), cancelled=(SPOUSE,), cancel_reason=CancellationReason.DEATH
    )
    # Before: no 户籍 answer for the spouse (NOT_FOUND): nothing in force was cancelled,
    # and the family's 户口簿 lists the same people in both checks.
    assert hukou_codes(changes_between(BASE.with_(registered=(APPLICANT,)), died)) == []


def test_a_death_as_an_older_department_answers_it_leaves_the_register() -> None:
    # The deceased's own answer is their cancelled registration, but without the status
    # (an optional field of protocol v1): the household's number, a record of its own
    # listing only them. It is not the family's 户口簿, which no longer lists them; with
    # no status, no cancellation is claimed.
    doc = changes_between(BASE, BASE.with_(registered=(APPLICANT,), cancelled=(SPOUSE,)))
    removed = only(doc, ChangeCode.HUKOU_MEMBER_REMOVED)
    assert removed["member"]["index_after"] == 1
    assert removed["person"]["relation"] == "配偶"
    assert codes(doc) == ["HUKOU_MEMBER_REMOVED"]


def test_a_birth_on_the_register_is_one_change_however_many_members_see_it() -> None:
    doc = changes_between(BASE, BASE.with_(registered=(APPLICANT, SPOUSE, BABY)))
    added = only(doc, ChangeCode.HUKOU_MEMBER_ADDED)
    assert added["member"] is None  # the baby is not (yet) a member the case system checks
    assert added["person"]["id_number_masked"].endswith(BABY.id_number[-4:])
    assert added["before"] == {"listed": 0} and added["after"] == {"listed": 1}
    assert codes(doc) == ["HUKOU_MEMBER_ADDED"]


def test_members_added_to_and_removed_from_the_household_checked() -> None:
    two = BASE
    three = BASE.with_(members=(APPLICANT, SPOUSE, CHILD), registered=(APPLICANT, SPOUSE, CHILD))
    doc = changes_between(two, three)
    added = only(doc, ChangeCode.HOUSEHOLD_MEMBER_ADDED)
    assert added["member"]["index_before"] is None and added["member"]["index_after"] == 2
    assert added["before"] == {"household_size": 2} and added["after"] == {"household_size": 3}
    assert only(doc, ChangeCode.HUKOU_MEMBER_ADDED)["member"]["index_after"] == 2
    back = changes_between(three, two)
    removed = only(back, ChangeCode.HOUSEHOLD_MEMBER_REMOVED)
    assert removed["member"]["index_before"] == 2 and removed["member"]["index_after"] is None
    assert "HUKOU_MEMBER_REMOVED" in codes(back)


def test_members_are_matched_by_subject_ref_not_by_position() -> None:
    # The same two people listed in the other order: nothing changed about anyone.
    spouse_car = BASE.with_(assets={(1, SourceKind.VEHICLE): (vehicle(),)})
    swapped = BASE.with_(
        members=(SPOUSE, APPLICANT),
        monthly_per_capita_fen=None,
        wages_fen={1: (S // 2) * 24},
        assets={(0, SourceKind.VEHICLE): (vehicle(),)},
    )
    doc = change_document(check(spouse_car).version, check(swapped).version)
    assert doc["changes"] == [] and doc["household_figures_compared"] is True
