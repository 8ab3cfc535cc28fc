"""Golden cases for the programs beyond 低保 income: 单人户, 特困, 临时救助 and 因病致贫.

Defaults (policy, request date, window, standards) as in ``assess_helpers``; amounts
are computed by hand to the fen, members named by index only.
"""

from __future__ import annotations

from datetime import date

from hedui_sdk import IncomeCategory
from tests.unit.assess_helpers import adult, household, income, outcome, prog, reason, run, y_of
from verifier.policy import Deduction, DeductionKind, HukouNature, Member, SupporterStatus

# --------------------------------------------------------------------------- 单人户


def test_g25_single_person_household_for_severely_disabled_adult() -> None:
    # 3 members, wages on member 0: 4320000 ÷ 12 ÷ 3 = 120000 ≥ S → household INELIGIBLE.
    # Member 1 is grade-1 disabled, 30, no own income; household y 120000 < 1.5 × S = 150000
    # → 单人户 ELIGIBLE, amount 100000 − 0 = 100000.
    ms = [adult(0), adult(1, 30, disability_grade=1), adult(2)]
    j = run(household(ms, {0: [income(4320000)]}))
    assert outcome(j, "dibao") == "ELIGIBLE"
    assert prog(j, "dibao")["amount_fen"] is None
    [single] = prog(j, "dibao")["members"]
    assert (single["member"], single["route"], single["outcome"], single["amount_fen"]) == (
        1,
        "single_person",
        "ELIGIBLE",
        100000,
    )


def test_g26_single_person_refused_at_one_and_a_half_times() -> None:
    # y = 5400000 ÷ 12 ÷ 3 = 150000 = 1.5 × S → not below → 单人户 INELIGIBLE.
    ms = [adult(0), adult(1, 30, disability_grade=2), adult(2)]
    j = run(household(ms, {0: [income(5400000)]}))
    assert outcome(j, "dibao") == "INELIGIBLE"
    assert prog(j, "dibao")["members"][0]["outcome"] == "INELIGIBLE"


def test_g27_single_person_needs_adult_and_counts_own_income() -> None:
    # Member 1 aged 16 (grade 1) → not an adult → INELIGIBLE. Member 2 seriously ill adult
    # with own income 360000 ÷ 12 = 30000/month → amount 100000 − 30000 = 70000.
    # Household: (4320000 + 360000) ÷ 12 ÷ 3 = 130000 < 150000.
    ms = [adult(0), adult(1, 16, disability_grade=1), adult(2, 50, serious_illness=True)]
    j = run(
        household(
            ms, {0: [income(4320000)], 2: [income(360000, "p2", category=IncomeCategory.TRANSFER)]}
        )
    )
    assert y_of(j) == 130000
    res = {m["member"]: (m["outcome"], m["amount_fen"]) for m in prog(j, "dibao")["members"]}
    assert res == {1: ("INELIGIBLE", None), 2: ("ELIGIBLE", 70000)}


# --------------------------------------------------------------------------- 特困


def test_g28_tekun_elderly_urban() -> None:
    # 70 years old, no supporter, no income, urban: standard 100000 × 1.5 = 150000.
    j = run(household([adult(0, 70, supporter=SupporterStatus.NONE)]))
    assert outcome(j, "tekun") == "ELIGIBLE"
    assert prog(j, "tekun")["standard_fen"] == 150000
    assert prog(j, "tekun")["amount_fen"] == 150000


def test_g29_tekun_rural_multiplier() -> None:
    # rural S 80000 × 1.3 = 104000; two elderly members → 208000.
    ms = [
        adult(0, 65, supporter=SupporterStatus.NONE),
        adult(1, 80, supporter=SupporterStatus.INCAPABLE),
    ]
    j = run(household(ms, hukou=HukouNature.RURAL))
    assert prog(j, "tekun")["standard_fen"] == 104000
    assert prog(j, "tekun")["amount_fen"] == 208000


def test_g30_tekun_supporter_and_category() -> None:
    # Capable supporter → INELIGIBLE; supporter unknown → NEEDS_REVIEW;
    # 40-year-old, not disabled → INELIGIBLE; 10-year-old minor, supporter incapable → ELIGIBLE.
    def tk(m: Member) -> str:
        return outcome(run(household([m])), "tekun")

    assert tk(adult(0, 70, supporter=SupporterStatus.CAPABLE)) == "INELIGIBLE"
    assert tk(adult(0, 70)) == "NEEDS_REVIEW"
    assert tk(adult(0, 40, supporter=SupporterStatus.NONE)) == "INELIGIBLE"
    assert tk(adult(0, 10, supporter=SupporterStatus.INCAPABLE)) == "ELIGIBLE"
    assert tk(adult(0, 40, disability_grade=1, supporter=SupporterStatus.NONE)) == "ELIGIBLE"


def test_g31_tekun_own_income_at_standard() -> None:
    # Own income 1200000 ÷ 12 = 100000 = S → has a source of living → INELIGIBLE;
    # 1199988 ÷ 12 = 99999 → ELIGIBLE.
    m = adult(0, 70, supporter=SupporterStatus.NONE)
    assert outcome(run(household([m], {0: [income(1200000)]})), "tekun") == "INELIGIBLE"
    assert outcome(run(household([m], {0: [income(1199988)]})), "tekun") == "ELIGIBLE"


def test_g32_tekun_birth_date_age() -> None:
    # Born 1965-03-11: on 2025-03-10 still 59 → not elderly → INELIGIBLE;
    # born 1965-03-10 → 60 → ELIGIBLE.
    def born(d: date) -> str:
        m = Member(0, "本人", birth_date=d, supporter=SupporterStatus.NONE)
        return outcome(run(household([m])), "tekun")

    assert born(date(1965, 3, 11)) == "INELIGIBLE"
    assert born(date(1965, 3, 10)) == "ELIGIBLE"


# --------------------------------------------------------------------------- 临时救助


def test_g33_linshi_expense_illness_range() -> None:
    # Gross 2400000, illness 600000 → net 1800000 ÷ 12 ÷ 2 = 75000 < 2 × S = 200000 → ELIGIBLE.
    # Ranges: 急难 2–4 × S = 200000–400000; 支出型 2–10 × = 200000–1000000;
    # 重特大疾病 3–12 × urban S = 300000–1200000; 就学 3–6 × urban S = 300000–600000.
    # (Issue 12: the 重特大疾病 band answers a member with a serious illness, not a medical
    # receipt. Before, any illness deduction picked it.) A receipt alone → 支出型.
    ded = [Deduction(DeductionKind.ILLNESS, 600000, "住院费用清单", 1)]
    j = run(household(2, {0: [income(2400000)]}, deductions=ded))
    p = prog(j, "linshi")
    assert p["outcome"] == "ELIGIBLE"
    assert p["range_fen"] == {"min": 200000, "max": 1000000}
    assert p["band"] == "expense"
    assert p["ranges_fen"] == {
        "emergency": {"min": 200000, "max": 400000},
        "expense": {"min": 200000, "max": 1000000},
        "illness": {"min": 300000, "max": 1200000},
        "schooling": {"min": 300000, "max": 600000},
    }
    # Member 1 has a serious illness → the 重特大疾病 band applies.
    ms = [adult(0), adult(1, serious_illness=True)]
    j = run(household(ms, {0: [income(2400000)]}, deductions=ded))
    assert prog(j, "linshi")["range_fen"] == {"min": 300000, "max": 1200000}
    assert prog(j, "linshi")["band"] == "illness"


def test_g34_linshi_schooling_range_and_no_rigid_expense() -> None:
    # A school receipt alone is a rigid expense → 支出型 200000–1000000 (issue 12: before,
    # any school deduction picked the 就学 band). Member 1 in school → 就学 300000–600000.
    ded = [Deduction(DeductionKind.SCHOOLING, 100000, "学费收据", 1)]
    j = run(household(2, deductions=ded))
    assert prog(j, "linshi")["range_fen"] == {"min": 200000, "max": 1000000}
    j = run(household([adult(0), adult(1, 15, in_school=True)], deductions=ded))
    assert prog(j, "linshi")["range_fen"] == {"min": 300000, "max": 600000}
    # No rigid expense at all → 支出型 INELIGIBLE (急难型 is case by case), range 支出型.
    j = run(household(2))
    assert outcome(j, "linshi") == "INELIGIBLE"
    assert prog(j, "linshi")["range_fen"] == {"min": 200000, "max": 1000000}


def test_g35_linshi_income_line_exactly_twice_standard() -> None:
    # Gross 5400000 − illness 600000 = 4800000 ÷ 12 ÷ 2 = 200000 = 2 × S → INELIGIBLE.
    ded = [Deduction(DeductionKind.ILLNESS, 600000, "住院费用清单", 0)]
    j = run(household(2, {0: [income(5400000)]}, deductions=ded))
    assert y_of(j) == 200000
    assert outcome(j, "linshi") == "INELIGIBLE"


# --------------------------------------------------------------------------- 因病致贫


def test_g36_yinbing_medical_burden_exactly_half() -> None:
    # Gross 2400000; illness 1200000 = 0.5 × 2400000 → burden met; net 1200000 ÷ 24 = 50000
    # < 2 × S = 200000 → ELIGIBLE. Illness 1199999 → below 1200000 → INELIGIBLE.
    ms = [adult(0), adult(1, 55, serious_illness=True)]
    recs = {0: [income(2400000)]}
    j = run(household(ms, recs, deductions=[Deduction(DeductionKind.ILLNESS, 1200000, "票据", 1)]))
    assert outcome(j, "yinbing_zhipin") == "ELIGIBLE"
    r = reason(j, "yinbing_zhipin", "yinbing_zhipin.medical_burden")
    assert r["values"]["threshold_fen"] == 1200000
    assert prog(j, "yinbing_zhipin")["members"][0]["member"] == 1
    j = run(household(ms, recs, deductions=[Deduction(DeductionKind.ILLNESS, 1199999, "票据", 1)]))
    assert outcome(j, "yinbing_zhipin") == "INELIGIBLE"


def test_g37_yinbing_needs_a_patient() -> None:
    ded = [Deduction(DeductionKind.ILLNESS, 1200000, "票据", 1)]
    j = run(household(2, {0: [income(2400000)]}, deductions=ded))
    assert outcome(j, "yinbing_zhipin") == "INELIGIBLE"
