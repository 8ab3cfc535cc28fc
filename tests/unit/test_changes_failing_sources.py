"""A source that fails, is pending or was not asked is never read as a change: no assets
gone, no income dropped, household figures withheld.
"""

from __future__ import annotations

import pytest

from hedui_sdk import SourceKind
from tests.unit.changes_helpers import (
    BASE,
    DIBAO_ASSET_MONTHS,
    S,
    changes_between,
    check,
    codes,
    deposit,
    program,
    vehicle,
)
from verifier.domain.changes import WithheldReason, change_document
from verifier.domain.outcomes import SourceStatus

# --------------------------------------------------------------------------- failing sources


def test_a_source_failing_now_is_not_assets_gone() -> None:
    rich = BASE.with_(assets={(0, SourceKind.BANK): (deposit(S * DIBAO_ASSET_MONTHS * 3),)})
    prev = check(rich)
    cur = check(rich.with_(statuses={(0, SourceKind.BANK): SourceStatus.FAILED}))
    # The new report, missing the bank, finds the deposits within the limit …
    limit_now = next(
        r for r in program(cur, "dibao")["reasons"] if r["rule"] == "dibao.financial_assets"
    )
    assert limit_now["outcome"] == "ELIGIBLE"
    doc = change_document(prev.version, cur.version)
    # … but no change is claimed from an answer that does not exist.
    assert codes(doc) == ["SOURCE_NEWLY_FAILING"]
    entry = doc["changes"][0]
    assert entry["member"]["index_after"] == 0 and entry["source"] == "bank"
    assert entry["before"] == {"status": "FOUND"} and entry["after"] == {"status": "FAILED"}
    assert doc["household_figures_compared"] is False
    assert doc["withheld"] == [
        {
            "reason": "SOURCE_UNANSWERED",
            "member": entry["member"],
            "source": "bank",
            "before": "FOUND",
            "after": "FAILED",
        }
    ]


@pytest.mark.parametrize("status", [SourceStatus.FAILED, SourceStatus.DENIED])
def test_income_source_failing_is_not_income_dropped(status: SourceStatus) -> None:
    high = BASE.with_(monthly_per_capita_fen=3 * S)
    doc = changes_between(high, high.with_(statuses={(0, SourceKind.TAX): status}))
    assert codes(doc) == ["SOURCE_NEWLY_FAILING"]
    assert doc["changes"][0]["after"] == {"status": status.value}


def test_a_vehicle_source_failing_is_not_the_vehicle_gone() -> None:
    with_car = BASE.with_(assets={(1, SourceKind.VEHICLE): (vehicle(),)})
    doc = changes_between(
        with_car, with_car.with_(statuses={(1, SourceKind.VEHICLE): SourceStatus.FAILED})
    )
    assert codes(doc) == ["SOURCE_NEWLY_FAILING"]


def test_a_source_answering_again_is_not_a_new_vehicle() -> None:
    with_car = BASE.with_(assets={(1, SourceKind.VEHICLE): (vehicle(),)})
    doc = changes_between(
        with_car.with_(statuses={(1, SourceKind.VEHICLE): SourceStatus.FAILED}), with_car
    )
    assert doc["changes"] == []  # it failed before: not "newly failing", and nothing new
    assert [w["source"] for w in doc["withheld"]] == ["vehicle"]


def test_a_pending_bank_withholds_household_figures_without_claiming_a_failure() -> None:
    doc = changes_between(
        BASE,
        BASE.with_(
            monthly_per_capita_fen=3 * S, statuses={(1, SourceKind.BANK): SourceStatus.PENDING}
        ),
    )
    assert doc["changes"] == []
    assert doc["household_figures_compared"] is False
    assert doc["withheld"][0]["after"] == "PENDING"


def test_a_source_not_asked_this_time_withholds_household_figures() -> None:
    fewer = tuple(k for k in SourceKind if k is not SourceKind.SECURITIES)
    doc = changes_between(BASE, BASE.with_(sources=fewer, monthly_per_capita_fen=3 * S))
    assert doc["changes"] == []
    assert {(w["source"], w["before"], w["after"]) for w in doc["withheld"]} == {
        ("securities", "NOT_FOUND", "ABSENT")
    }


def test_a_report_without_an_assessment_compares_sources_only() -> None:
    prev = check(BASE)
    cur = check(BASE.with_(assets={(0, SourceKind.VEHICLE): (vehicle(),)}), assessed=False)
    doc = change_document(prev.version, cur.version)
    assert codes(doc) == ["VEHICLE_ADDED"]
    assert doc["household_figures_compared"] is False
    assert doc["withheld"] == [
        {
            "reason": WithheldReason.ASSESSMENT_UNAVAILABLE.value,
            "member": None,
            "source": None,
            "before": "ASSESSED",
            "after": "UNAVAILABLE",
        }
    ]
