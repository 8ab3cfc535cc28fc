"""Golden cases for dated parameters, completeness (pending, failed or absent sources),
discrepancies between sources, the report JSON and input validation.

Defaults (policy, request date, window, standards) as in ``assess_helpers``; amounts
are computed by hand to the fen, members named by index only.
"""

from __future__ import annotations

from datetime import date

import pytest

from hedui_sdk import (
    AssetCategory,
    HouseholdRegistrationRecord,
    IncomeCategory,
    RegisteredMember,
    SourceKind,
)
from tests.unit.assess_helpers import (
    GOLDEN,
    POLICY,
    REQ,
    adult,
    asset,
    household,
    income,
    outcome,
    prog,
    prov,
    run,
)
from verifier.policy import (
    AssessmentInput,
    Declaration,
    DeclaredIncome,
    DeclaredPeriod,
    Deduction,
    DeductionKind,
    HukouNature,
    SourceStatus,
    SupporterStatus,
    assess,
    explain,
)

# --------------------------------------------------------------------------- dated parameters


def test_g38_policy_change_inside_window_uses_value_at_request_date() -> None:
    # S changed 95000 → 100000 on 2024-07-01. Request 2024-10-15: window 2023-10-01..
    # 2024-09-30 spans the change; the value in force on the request date (100000) applies.
    # y = 1164000 ÷ 12 = 97000 < 100000 → ELIGIBLE, top-up 3000. (A per-month average,
    # (95000 × 9 + 100000 × 3) ÷ 12 = 96250, would have refused this family.)
    rec = income(1164000, start=date(2023, 10, 1), end=date(2024, 9, 30))
    j = run(household(1, {0: [rec]}, request=date(2024, 10, 15)))
    assert j["aggregates"]["window"] == {"start": "2023-10-01", "end": "2024-09-30", "months": "12"}
    assert prog(j, "dibao")["amount_fen"] == 3000
    assert j["policy"]["parameters_used"]["dibao_standard_urban"]["from"] == "2024-07-01"
    # Request 2024-06-15, before the change: S = 95000 → 97000 ≥ 95000 → INELIGIBLE.
    rec = income(1164000, start=date(2023, 6, 1), end=date(2024, 5, 31))
    j = run(household(1, {0: [rec]}, request=date(2024, 6, 15)))
    assert prog(j, "dibao")["standard_fen"] == 95000
    assert outcome(j, "dibao") == "INELIGIBLE"


# --------------------------------------------------------------------------- completeness


def test_g39_pending_bank_makes_needs_review_not_eligible() -> None:
    # y = 60000 would be ELIGIBLE, but member 0's bank is PENDING → NEEDS_REVIEW.
    srcs = {i: dict.fromkeys(SourceKind, SourceStatus.FOUND) for i in range(3)}
    srcs[0][SourceKind.BANK] = SourceStatus.PENDING
    j = run(household(3, {0: [income(2160000)]}, sources=srcs))
    for p in ("dibao", "dibao_bianyuan"):
        assert outcome(j, p) == "NEEDS_REVIEW"
    assert prog(j, "dibao")["amount_fen"] == 120000  # indicative, if the review confirms it
    assert j["aggregates"]["completeness"] == {
        "complete": False,
        "missing": [{"member": 0, "source": "bank", "status": "PENDING"}],
    }


def test_g40_failed_or_absent_sources_never_eligible() -> None:
    no_tax: dict[int, dict[SourceKind, SourceStatus]] = {
        0: {k: SourceStatus.NOT_FOUND for k in SourceKind if k is not SourceKind.TAX}
    }
    j = run(household([adult(0, 70, supporter=SupporterStatus.NONE)], sources=no_tax))
    assert all(outcome(j, p) != "ELIGIBLE" for p in ("dibao", "tekun", "dibao_bianyuan"))
    assert j["aggregates"]["completeness"]["missing"][0]["status"] == "ABSENT"
    srcs: dict[int, dict[SourceKind, SourceStatus]] = {
        0: dict.fromkeys(SourceKind, SourceStatus.NOT_FOUND)
    }
    srcs[0][SourceKind.VEHICLE] = SourceStatus.FAILED
    j = run(household(1, sources=srcs))
    assert outcome(j, "dibao") == "NEEDS_REVIEW"


def test_g41_ineligible_stays_ineligible_with_missing_sources() -> None:
    # Missing data can only add income or assets, so a refusal on found data stands.
    srcs = {0: dict.fromkeys(SourceKind, SourceStatus.FAILED)}
    j = run(household(1, {0: [income(2400000)]}, sources=srcs))
    assert outcome(j, "dibao") == "INELIGIBLE"


# --------------------------------------------------------------------------- discrepancies


def test_g42_income_discrepancy_beyond_tolerance() -> None:
    # Found 720012 ÷ 12 = 60001/month; declared 50000/month; diff 10001 > tolerance
    # max(10000, 5% × 60001 = 3000.05 → 3000) = 10000 → reported. Found 720000 → 60000,
    # diff 10000 = tolerance → not reported.
    decl = Declaration(income=(DeclaredIncome(IncomeCategory.WAGES, 50000),))
    j = run(household(1, {0: [income(720012, "tax-1")]}, declaration=decl))
    [d] = j["discrepancies"]
    assert (
        d["kind"],
        d["category"],
        d["declared"],
        d["found"],
        d["difference"],
        d["tolerance"],
    ) == ("income", "wages", 50000, 60001, 10001, 10000)
    assert d["evidence"][0]["record_id"] == "tax-1"
    assert d["text"].startswith("申报工资性收入月均 500.00 元；部门记录显示窗口期月均 600.01 元")
    assert run(household(1, {0: [income(720000)]}, declaration=decl))["discrepancies"] == []


def test_g43_annual_declaration_matches() -> None:
    # Declared 720000 a year = 60000/month = found 720000 ÷ 12 → no discrepancy.
    decl = Declaration(
        income=(DeclaredIncome(IncomeCategory.WAGES, 720000, DeclaredPeriod.ANNUAL),)
    )
    assert run(household(1, {0: [income(720000)]}, declaration=decl))["discrepancies"] == []


def test_g44_deposit_tolerance_override_and_counts() -> None:
    # Deposit tolerance is 50000 (override): found 50000, declared 0 → within; 50001 → reported.
    # A car found where none was declared → count discrepancy.
    decl = Declaration()
    j = run(household(1, {0: [asset(AssetCategory.DEPOSIT, 50000)]}, declaration=decl))
    assert j["discrepancies"] == []
    recs = {
        0: [
            asset(AssetCategory.DEPOSIT, 50001, "bank-7"),
            asset(AssetCategory.VEHICLE, 1, "car-1", kind="car"),
        ]
    }
    j = run(household(1, recs, declaration=decl))
    got = {(d["kind"], d["category"], d["found"], d["tolerance"]) for d in j["discrepancies"]}
    assert got == {("asset_value", "deposit", 50001, 50000), ("asset_count", "vehicle", 1, 0)}


def test_g45_household_size_vs_registration() -> None:
    reg = HouseholdRegistrationRecord(
        "370322",
        tuple(
            RegisteredMember("resident_id", f"TEST-{i}", f"成员{i}", "家庭成员") for i in range(4)
        ),
        prov("hh-1", SourceKind.HOUSEHOLD_REGISTRATION),
    )
    j = run(household(3, {0: [reg], 1: [reg]}, declaration=Declaration(member_count=3)))
    assert j["aggregates"]["household_size_registered"] == 4
    [d] = j["discrepancies"]
    assert (d["kind"], d["declared"], d["found"]) == ("household_size", 3, 4)


# --------------------------------------------------------------------------- report JSON


def test_json_records_policy_identity_and_explains() -> None:
    import hashlib
    import json

    j = run(household(3, {0: [income(2160000)]}))
    assert (
        j["policy"]["sha256"]
        == hashlib.sha256((GOLDEN / "policy_test.toml").read_bytes()).hexdigest()
    )
    assert j["policy"]["version"] == "test.1"
    assert set(j) == {"policy", "aggregates", "assessments", "discrepancies", "facts"}
    assert list(j["assessments"]) == [
        "dibao",
        "tekun",
        "linshi",
        "dibao_bianyuan",
        "yinbing_zhipin",
    ]

    def no_floats(x: object) -> None:
        assert not isinstance(x, float)
        if isinstance(x, dict):
            for v in x.values():
                no_floats(v)
        elif isinstance(x, list):
            for v in x:
                no_floats(v)

    no_floats(j)
    text = json.dumps(j, ensure_ascii=False)
    assert json.loads(text) == j
    out = explain(j)
    assert "【最低生活保障】符合（参考金额 ¥1,200.00/月）" in out
    assert "家庭月人均收入 600.00 元，低于低保标准 1000.00 元" in out


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="6-digit"):
        household(1).__class__(
            region="37", request_date=REQ, hukou=HukouNature.URBAN, members=(adult(0),)
        )
    with pytest.raises(ValueError, match="unique"):
        household([adult(0), adult(0)])
    with pytest.raises(ValueError, match="evidence"):
        Deduction(DeductionKind.ILLNESS, 1, " ")
    with pytest.raises(ValueError, match="does not serve"):
        assess(AssessmentInput("341824", REQ, HukouNature.URBAN, (adult(0),)), POLICY)
