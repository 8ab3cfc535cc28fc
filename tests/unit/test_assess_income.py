"""Golden cases for income: money helpers and the default window, 低保 income against the
standard, 渐退, 边缘, prorating and rounding, and deductions.

Defaults (policy, request date, window, standards) as in ``assess_helpers``; amounts
are computed by hand to the fen, members named by index only.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hedui_sdk import Window
from tests.unit.assess_helpers import (
    REQ,
    W_END,
    W_START,
    household,
    income,
    outcome,
    prog,
    reason,
    run,
    y_of,
)
from verifier.policy import (
    Deduction,
    DeductionKind,
    HukouNature,
    Purpose,
    default_window,
    half_up,
    window_months,
    yuan,
)

# --------------------------------------------------------------------------- basics


def test_money_helpers() -> None:
    assert half_up(Decimal("0.5")) == 1
    assert half_up(Decimal("-0.5")) == -1
    assert half_up(Decimal("2.4999")) == 2
    assert yuan(61234) == "612.34"
    assert yuan(5) == "0.05"
    assert yuan(-150) == "-1.50"


def test_default_window_is_12_whole_months_before_request() -> None:
    assert default_window(REQ) == Window(W_START, W_END)
    assert window_months(Window(W_START, W_END)) == 12
    # 2025-01-01..2025-01-15 is 15 of January's 31 days.
    assert window_months(Window(date(2025, 1, 1), date(2025, 1, 15))) * 31 == 15


# --------------------------------------------------------------------------- 低保 income


def test_g01_dibao_eligible_three_members() -> None:
    # 2160000 ÷ 12 ÷ 3 = 60000 (600.00 元) < S 100000 → ELIGIBLE;
    # top-up (100000 − 60000) × 3 = 120000.
    j = run(household(3, {0: [income(2160000)]}))
    assert y_of(j) == 60000
    assert outcome(j, "dibao") == "ELIGIBLE"
    assert prog(j, "dibao")["amount_fen"] == 120000
    r = reason(j, "dibao", "dibao.income")
    assert r["values"] == {"monthly_per_capita_income_fen": 60000, "standard_fen": 100000}
    assert r["text"] == "家庭月人均收入 600.00 元，低于低保标准 1000.00 元"


def test_g02_income_exactly_at_standard_is_not_below_it() -> None:
    # 1200000 ÷ 12 ÷ 1 = 100000 = S: 低保 needs income *below* S → INELIGIBLE (no amount);
    # 边缘 line 1.5 × 100000 = 150000 > 100000 → ELIGIBLE.
    j = run(household(1, {0: [income(1200000)]}))
    assert y_of(j) == 100000
    assert outcome(j, "dibao") == "INELIGIBLE"
    assert prog(j, "dibao")["amount_fen"] is None
    assert outcome(j, "dibao_bianyuan") == "ELIGIBLE"


def test_g03_one_fen_below_standard() -> None:
    # 1199988 ÷ 12 = 99999 → ELIGIBLE, top-up (100000 − 99999) × 1 = 1 fen.
    j = run(household(1, {0: [income(1199988)]}))
    assert y_of(j) == 99999
    assert outcome(j, "dibao") == "ELIGIBLE"
    assert prog(j, "dibao")["amount_fen"] == 1


def test_g04_one_fen_above_standard() -> None:
    # 1200012 ÷ 12 = 100001 > S → INELIGIBLE.
    j = run(household(1, {0: [income(1200012)]}))
    assert y_of(j) == 100001
    assert outcome(j, "dibao") == "INELIGIBLE"


def test_g05_rural_standard() -> None:
    # rural S = 80000; 2 members, 1919976 ÷ 12 ÷ 2 = 79999 → top-up (80000 − 79999) × 2 = 2.
    j = run(household(2, {1: [income(1919976)]}, hukou=HukouNature.RURAL))
    assert y_of(j) == 79999
    assert prog(j, "dibao")["amount_fen"] == 2
    assert prog(j, "dibao")["standard_fen"] == 80000


# --------------------------------------------------------------------------- 渐退


def test_g06_taper_at_standard_for_current_household() -> None:
    # y = 100000 = S, household already on 低保, below 2 × S = 200000 → 渐退 for 1–6 months
    # (a range the caseworker chooses within, not a fixed number).
    j = run(household(1, {0: [income(1200000)]}, current=frozenset({Purpose.DIBAO})))
    assert outcome(j, "dibao") == "ELIGIBLE"
    assert prog(j, "dibao")["taper_months_range"] == {"min": 1, "max": 6}
    assert prog(j, "dibao")["amount_fen"] is None
    assert reason(j, "dibao", "dibao.taper")["values"]["taper_ceiling_fen"] == 200000


def test_g07_taper_one_fen_below_twice_standard() -> None:
    # 2399988 ÷ 12 = 199999 < 200000 → still 渐退.
    j = run(household(1, {0: [income(2399988)]}, current=frozenset({Purpose.DIBAO})))
    assert y_of(j) == 199999
    assert prog(j, "dibao")["taper_months_range"] == {"min": 1, "max": 6}


def test_g08_taper_ends_exactly_at_twice_standard() -> None:
    # 2400000 ÷ 12 = 200000 = 2 × S → not below the ceiling → INELIGIBLE, no taper.
    j = run(household(1, {0: [income(2400000)]}, current=frozenset({Purpose.DIBAO})))
    assert y_of(j) == 200000
    assert outcome(j, "dibao") == "INELIGIBLE"
    assert prog(j, "dibao")["taper_months_range"] is None


def test_g09_no_taper_for_new_applicants() -> None:
    # y = 150000, between S and 2S, but the household is not on 低保 → INELIGIBLE.
    j = run(household(1, {0: [income(1800000)]}))
    assert outcome(j, "dibao") == "INELIGIBLE"
    assert prog(j, "dibao")["taper_months_range"] is None


# --------------------------------------------------------------------------- 边缘


def test_g10_bianyuan_exactly_one_and_a_half_times() -> None:
    # 1.5 × 100000 = 150000. 1800000 ÷ 12 = 150000 → not below → INELIGIBLE;
    # 1799988 ÷ 12 = 149999 → ELIGIBLE.
    j = run(household(1, {0: [income(1800000)]}))
    assert outcome(j, "dibao_bianyuan") == "INELIGIBLE"
    assert prog(j, "dibao_bianyuan")["standard_fen"] == 150000
    j = run(household(1, {0: [income(1799988)]}))
    assert outcome(j, "dibao_bianyuan") == "ELIGIBLE"


# --------------------------------------------------------------------------- prorating, rounding


def test_g11_record_prorated_by_days_in_window() -> None:
    # Record 2024-01-01..2024-12-31 = 366 days, 3660000 fen (10000 a day);
    # inside the window 2024-03-01..2024-12-31 = 306 days → 3060000.
    # y = 3060000 ÷ 12 ÷ 3 = 85000; top-up (100000 − 85000) × 3 = 45000.
    rec = income(3660000, start=date(2024, 1, 1), end=date(2024, 12, 31))
    j = run(household(3, {0: [rec]}))
    assert j["aggregates"]["income_fen"]["wages"] == 3060000
    assert y_of(j) == 85000
    assert prog(j, "dibao")["amount_fen"] == 45000


def test_g12_partial_record_rounded_once() -> None:
    # Record 2025-02-01..2025-03-31 = 59 days, 59000 fen; February (28 days) is inside
    # → 28000. y = 28000 ÷ 12 = 2333.33… → 2333; top-up 100000 − 2333 = 97667.
    rec = income(59000, start=date(2025, 2, 1), end=date(2025, 3, 31))
    j = run(household(1, {0: [rec]}))
    assert y_of(j) == 2333
    assert prog(j, "dibao")["amount_fen"] == 97667


def test_g13_half_up_and_only_once() -> None:
    # 18 ÷ 12 = 1.5 → 2 (half-up).
    assert y_of(run(household(1, {0: [income(18)]}))) == 2
    # Two records of 6: rounding each (6 ÷ 12 = 0.5 → 1) would give 2; exact sum 12 ÷ 12 = 1.
    j = run(household(1, {0: [income(6, "a"), income(6, "b")]}))
    assert y_of(j) == 1


def test_g14_record_outside_window_ignored() -> None:
    # 2025-03-01..2025-03-31 lies after the window → contributes 0; y = 0; top-up = S.
    j = run(household(1, {0: [income(500000, start=date(2025, 3, 1), end=date(2025, 3, 31))]}))
    assert y_of(j) == 0
    assert prog(j, "dibao")["amount_fen"] == 100000


# --------------------------------------------------------------------------- deductions


def test_g15_deduction_brings_income_to_standard_and_one_fen_below() -> None:
    # Gross 2640000 ÷ 12 ÷ 2 = 110000. Illness 240000 → (2640000 − 240000) ÷ 24 = 100000 = S
    # → INELIGIBLE. Illness 240024 → 2399976 ÷ 24 = 99999 → ELIGIBLE, top-up 1 × 2 = 2.
    recs = {0: [income(2640000)]}
    d1 = Deduction(DeductionKind.ILLNESS, 240000, "医疗费票据 #1", 1)
    j = run(household(2, recs, deductions=[d1]))
    assert y_of(j) == 100000
    assert outcome(j, "dibao") == "INELIGIBLE"
    d2 = Deduction(DeductionKind.ILLNESS, 240024, "医疗费票据 #1", 1)
    j = run(household(2, recs, deductions=[d2]))
    assert y_of(j) == 99999
    assert prog(j, "dibao")["amount_fen"] == 2
    assert j["aggregates"]["deductions_fen"]["illness"] == 240024
    assert j["aggregates"]["deduction_items"] == [
        {"kind": "illness", "amount_fen": 240024, "evidence": "医疗费票据 #1", "member": 1}
    ]


def test_g16_employment_cost_and_schooling_deducted() -> None:
    # 1440000 − 120000 (就业成本) − 120000 (就学) = 1200000; ÷ 12 ÷ 2 = 50000;
    # top-up (100000 − 50000) × 2 = 100000.
    ded = [
        Deduction(DeductionKind.EMPLOYMENT_COST, 120000, "交通费凭证"),
        Deduction(DeductionKind.SCHOOLING, 120000, "学费收据", 1),
    ]
    j = run(household(2, {0: [income(1440000)]}, deductions=ded))
    assert y_of(j) == 50000
    assert prog(j, "dibao")["amount_fen"] == 100000


def test_g17_deductions_above_income_floor_at_zero() -> None:
    # 120000 income − 500000 deductions → net below 0 → y = 0; top-up 100000 × 2 = 200000.
    ded = [Deduction(DeductionKind.DISABILITY_CARE, 500000, "护理费凭证", 0)]
    j = run(household(2, {0: [income(120000)]}, deductions=ded))
    assert y_of(j) == 0
    assert prog(j, "dibao")["amount_fen"] == 200000
