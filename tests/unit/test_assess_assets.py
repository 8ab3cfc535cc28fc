"""Golden cases for asset limits: financial assets, provident fund, real estate count and
area, vehicles with exempt kinds, business value.

Defaults (policy, request date, window, standards) as in ``assess_helpers``; amounts
are computed by hand to the fen, members named by index only.
"""

from __future__ import annotations

from hedui_sdk import AssetCategory
from tests.unit.assess_helpers import asset, household, outcome, reason, run

# --------------------------------------------------------------------------- asset limits


def test_g18_financial_assets_exactly_at_limit_and_one_fen_over() -> None:
    # Limit S × 24 months × 2 people = 100000 × 24 × 2 = 4800000, split over two members.
    ok = {
        0: [asset(AssetCategory.DEPOSIT, 3000000, "d0")],
        1: [asset(AssetCategory.SECURITIES, 1800000, "s1")],
    }
    j = run(household(2, ok))
    r = reason(j, "dibao", "dibao.financial_assets")
    assert r["values"]["limit_fen"] == 4800000
    assert r["values"]["financial_assets_fen"] == 4800000
    assert outcome(j, "dibao") == "ELIGIBLE"
    over = {**ok, 1: [asset(AssetCategory.SECURITIES, 1800001, "s1")]}
    assert outcome(run(household(2, over)), "dibao") == "INELIGIBLE"


def test_g19_bianyuan_financial_limit_is_36_months() -> None:
    # 低保: 100000 × 24 × 1 = 2400000 < 3600000 → INELIGIBLE;
    # 边缘: 100000 × 36 × 1 = 3600000 → exactly at the limit → ELIGIBLE.
    j = run(household(1, {0: [asset(AssetCategory.INTERNET_FINANCE, 3600000)]}))
    assert outcome(j, "dibao") == "INELIGIBLE"
    assert outcome(j, "dibao_bianyuan") == "ELIGIBLE"


def test_g20_provident_fund_not_financial_here() -> None:
    # The test policy counts deposit, securities, insurance cash value, internet finance;
    # a 9,999,999 fen provident fund balance does not count.
    j = run(household(1, {0: [asset(AssetCategory.PROVIDENT_FUND, 9999999)]}))
    assert outcome(j, "dibao") == "ELIGIBLE"
    assert j["aggregates"]["assets"]["value_fen"]["provident_fund"] == 9999999


def test_g21_real_estate_count() -> None:
    # Limit 1 property: 1 → ELIGIBLE; 2 (on two records) → INELIGIBLE.
    one = {0: [asset(AssetCategory.REAL_ESTATE, 0, "h1", area="40")]}
    assert outcome(run(household(2, one)), "dibao") == "ELIGIBLE"
    two = {
        0: [asset(AssetCategory.REAL_ESTATE, 0, "h1", area="20")],
        1: [asset(AssetCategory.REAL_ESTATE, 0, "h2", area="20")],
    }
    j = run(household(2, two))
    assert outcome(j, "dibao") == "INELIGIBLE"
    assert reason(j, "dibao", "dibao.real_estate_count")["values"] == {
        "real_estate_count": 2,
        "limit": 1,
    }


def test_g22_real_estate_area_per_capita() -> None:
    # Limit 30 m² per person; 2 people → 60 m² total. 60 → ELIGIBLE; 60.01 → INELIGIBLE;
    # area not recorded → NEEDS_REVIEW (missing data is never a pass).
    def with_area(a: str | None) -> str:
        return outcome(run(household(2, {0: [asset(AssetCategory.REAL_ESTATE, area=a)]})), "dibao")

    assert with_area("60") == "ELIGIBLE"
    assert with_area("60.01") == "INELIGIBLE"
    assert with_area(None) == "NEEDS_REVIEW"


def test_g23_vehicle_rule_with_exempt_kinds() -> None:
    # Limit 0 non-exempt vehicles. A car → INELIGIBLE; a motorcycle (kind) and a 残疾人代步车
    # (details.vehicle_kind) are exempt → ELIGIBLE.
    car = {0: [asset(AssetCategory.VEHICLE, 3000000, kind="car")]}
    assert outcome(run(household(1, car)), "dibao") == "INELIGIBLE"
    exempt = {
        0: [
            asset(AssetCategory.VEHICLE, 300000, "m", kind="motorcycle"),
            asset(
                AssetCategory.VEHICLE, 200000, "d", kind="other", vehicle_kind="disabled_mobility"
            ),
        ]
    }
    j = run(household(1, exempt))
    assert outcome(j, "dibao") == "ELIGIBLE"
    assert j["aggregates"]["assets"]["vehicles"] == {"counted": 0, "exempt": 2}


def test_g24_business_value_limit() -> None:
    # Limit 1000000 fen: exactly 1000000 → ELIGIBLE; 1000001 → INELIGIBLE.
    at = {0: [asset(AssetCategory.BUSINESS, 1000000)]}
    assert outcome(run(household(1, at)), "dibao") == "ELIGIBLE"
    over = {0: [asset(AssetCategory.BUSINESS, 1000001)]}
    assert outcome(run(household(1, over)), "dibao") == "INELIGIBLE"
