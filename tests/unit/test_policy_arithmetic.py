"""Issue 12, policy arithmetic: exact rationals, one rounding at the amount paid, ties by
the policy's rule, 渐退 as a range, 临时救助 bands as each county's text states them, and
example values marked wherever they are used.

Golden policy as in ``assess_helpers.py``: request 2025-03-10, window 12 whole months, urban
S = 100000, rural 80000, ties to the family. Hand computations are in the comments.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedui_sdk import IncomeCategory, SourceKind
from tests.unit.assess_helpers import (
    POLICY,
    adult,
    evidence_as_declared,
    household,
    income,
    outcome,
    prog,
    reason,
    run,
    y_of,
)
from verifier.domain.money import (
    at_least,
    at_most,
    below,
    exact_str,
    fen_text,
    format_amount,
    format_yuan,
    half_up,
)
from verifier.policy import (
    AssessmentInput,
    Declaration,
    DeclaredIncome,
    Deduction,
    DeductionKind,
    HukouNature,
    Member,
    Policy,
    Purpose,
    SourceStatus,
    assess,
    explain,
    load_policy,
    load_policy_file,
)

GOLDEN = Path(__file__).parent / "golden" / "policy_test.toml"


def variant_policy(tmp_path: Path, *replacements: tuple[str, str]) -> Policy:
    text = GOLDEN.read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    p = tmp_path / "variant.toml"
    p.write_text(text, encoding="utf-8")
    return load_policy_file(p)


# --------------------------------------------------------------------------- item 7


@pytest.mark.parametrize(
    ("members", "income_fen", "exact_y", "amount"),
    [
        # The example: 3000000 ÷ 36 = 250000/3; (100000 − 250000/3) × 3 = 50000.
        # Rounding y to 83333 first paid 50001.
        (3, 3000000, "250000/3", 50000),
        # 7 members, 1000000: y = 250000/21 = 11904.76…; 700000 − 83333.33… = 616666.67
        # → 616667 (rounded first: (100000 − 11905) × 7 = 616665).
        (7, 1000000, "250000/21", 616667),
        # 7 members, 2345678: y = 2345678 ÷ 84 = 1172839/42 = 27924.74; 700000 −
        # 2345678 ÷ 12 = 700000 − 195473.17 = 504526.83 → 504527 (rounded first:
        # (100000 − 27925) × 7 = 504525).
        (7, 2345678, "1172839/42", 504527),
        # 30 members, 2000000: y = 50000/9 = 5555.56; 3000000 − 166666.67 = 2833333.33
        # → 2833333 (rounded first: (100000 − 5556) × 30 = 2833320, 13 fen short).
        (30, 2000000, "50000/9", 2833333),
        # 30 members, 9999999: y = 9999999 ÷ 360 = 1111111/40 = 27777.775; 3000000 −
        # 9999999 ÷ 12 = 3000000 − 833333.25 = 2166666.75 → 2166667 (rounded first:
        # (100000 − 27778) × 30 = 2166660).
        (30, 9999999, "1111111/40", 2166667),
    ],
)
def test_top_up_is_computed_exactly_and_rounded_once(
    members: int, income_fen: int, exact_y: str, amount: int
) -> None:
    j = run(household(members, {0: [income(income_fen)]}))
    assert j["aggregates"]["monthly_per_capita_income_exact"] == exact_y
    assert outcome(j, "dibao") == "ELIGIBLE"
    assert prog(j, "dibao")["amount_fen"] == amount
    r = reason(j, "dibao", "dibao.amount")
    assert r["values"]["amount_fen"] == amount
    assert r["values"]["monthly_per_capita_income_exact"] == exact_y


def test_standard_is_compared_on_the_exact_income() -> None:
    # 3599988 ÷ 36 = 99999.67: shown as 1000.00 元 but below S → ELIGIBLE, pays 1 fen
    # ((100000 − 299999/3) × 3 = 1). Rounding first made it 100000 = S and refused it.
    j = run(household(3, {0: [income(3599988)]}))
    assert y_of(j) == 100000
    assert outcome(j, "dibao") == "ELIGIBLE"
    assert prog(j, "dibao")["amount_fen"] == 1
    text = reason(j, "dibao", "dibao.income")["text"]
    assert "精确值 299999/3 分" in text and "低于低保标准" in text
    # A third of a fen above S (3600012 ÷ 36 = 100000.33) is not below S.
    assert outcome(run(household(3, {0: [income(3600012)]})), "dibao") == "INELIGIBLE"


def test_a_tie_inside_one_fen_goes_the_way_the_policy_file_says(tmp_path: Path) -> None:
    # Rural S 80001: 边缘 line 1.5 × 80001 = 120001.5. Five members, 7200102 fen →
    # y = 120001.7: within one fen of the line. "family": y down to 120001, line up to
    # 120002 → below → ELIGIBLE. "exact": 120001.7 ≥ 120001.5 → INELIGIBLE.
    odd = ("{ from = 2023-01-01, value_fen = 80000,", "{ from = 2023-01-01, value_fen = 80001,")
    family = variant_policy(tmp_path, odd)
    inp = household(5, {0: [income(7200102)]}, hukou=HukouNature.RURAL)
    j: dict[str, Any] = assess(inp, family).to_json()
    assert outcome(j, "dibao_bianyuan") == "ELIGIBLE"
    r = reason(j, "dibao_bianyuan", "dibao_bianyuan.income")
    assert r["values"]["line_exact"] == "240003/2"
    assert r["values"]["monthly_per_capita_income_exact"] == "1200017/10"
    exact = variant_policy(tmp_path, odd, ('value = "family"', 'value = "exact"'))
    j = dict(assess(inp, exact).to_json())
    assert outcome(j, "dibao_bianyuan") == "INELIGIBLE"
    assert j["policy"]["parameters_used"]["fen_tie_rule"]["value"] == "exact"


def test_medical_burden_threshold_is_not_rounded_before_it_is_compared() -> None:
    # Gross 2400001 → burden 0.5 × 2400001 = 1200000.5. Paid 1200000: half a fen short,
    # which goes to the family → met. (The old code rounded the threshold to 1200001.)
    ms = [adult(0), adult(1, 55, serious_illness=True)]
    ded = [Deduction(DeductionKind.ILLNESS, 1200000, "票据", 1)]
    j = run(household(ms, {0: [income(2400001)]}, deductions=ded))
    r = reason(j, "yinbing_zhipin", "yinbing_zhipin.medical_burden")
    assert r["outcome"] == "ELIGIBLE"
    assert r["values"]["threshold_exact"] == "2400001/2"
    ded = [Deduction(DeductionKind.ILLNESS, 1199999, "票据", 1)]
    j = run(household(ms, {0: [income(2400001)]}, deductions=ded))
    assert reason(j, "yinbing_zhipin", "yinbing_zhipin.medical_burden")["outcome"] == ("INELIGIBLE")


def test_tie_rule_is_required_and_checked(tmp_path: Path) -> None:
    from verifier.policy import check_policy_file

    text = GOLDEN.read_text(encoding="utf-8").replace('value = "family"', 'value = "maybe"')
    p = tmp_path / "t.toml"
    p.write_text(text, encoding="utf-8")
    [prob] = check_policy_file(p)
    assert prob.parameter == "fen_tie_rule"
    assert "unknown value 'maybe'" in prob.message


@given(
    st.fractions(min_value=0, max_value=10**6),
    st.fractions(min_value=0, max_value=10**6),
    st.fractions(min_value=0, max_value=10),
    st.sampled_from(["family", "exact"]),
)
def test_comparisons_are_monotone_and_family_never_worse(
    v: Fraction, limit: Fraction, more: Fraction, rule: str
) -> None:
    # More income never passes where less failed; the family rule passes whatever exact does.
    if below(v + more, limit, rule):
        assert below(v, limit, rule)
    if at_most(v + more, limit, rule):
        assert at_most(v, limit, rule)
    if at_least(v, limit, rule):
        assert at_least(v + more, limit, rule)
    assert below(v, limit, "family") >= below(v, limit, "exact")
    assert at_least(v, limit, "family") >= at_least(v, limit, "exact")
    # Outside one fen the two rules agree.
    if abs(v - limit) >= 1 and math.floor(v) != math.floor(limit):
        assert below(v, limit, "family") == below(v, limit, "exact")


def test_exact_text_helpers() -> None:
    assert exact_str(Fraction(250000, 3)) == "250000/3"
    assert exact_str(Fraction(10)) == "10"
    assert fen_text(60000) == "600.00 元"
    assert fen_text(Fraction(250000, 3)) == "约 833.33 元（精确值 250000/3 分）"


def test_every_view_shows_fen_as_yuan_one_way() -> None:
    assert format_yuan(123450) == "¥1,234.50"
    assert format_yuan(5) == "¥0.05"
    assert format_yuan(-123456789) == "-¥1,234,567.89"
    assert format_amount(100000) == "¥1,000.00"
    assert format_amount(None) == format_amount(True) == format_amount("12") == "—"


def test_half_up_rounds_ties_away_from_zero_exactly() -> None:
    assert [half_up(Fraction(n, 2)) for n in (-3, -1, 1, 3, 5)] == [-2, -1, 1, 2, 3]
    assert half_up(Decimal("2.5")) == 3 and half_up(Decimal("-2.5")) == -3
    assert half_up(Fraction(249999, 3)) == 83333 and half_up(Fraction(250000, 3)) == 83333


# --------------------------------------------------------------------------- item 9


def test_taper_is_a_range_in_assessment_reason_and_explanation() -> None:
    # y = 150000 between S and 2 S, on 低保 → 渐退 1–6 months, the caseworker decides.
    j = run(household(1, {0: [income(1800000)]}, current=frozenset({Purpose.DIBAO})))
    p = prog(j, "dibao")
    assert p["taper_months_range"] == {"min": 1, "max": 6}
    assert "taper_months" not in p
    r = reason(j, "dibao", "dibao.taper")
    assert (r["values"]["taper_min_months"], r["values"]["taper_max_months"]) == (1, 6)
    assert "可渐退 1–6 个月" in r["text"]
    assert "测政字〔2021〕1号" in r["reference"]
    assert "渐退 1–6 个月，由审核确认机关在范围内决定" in explain(j)


def test_taper_range_must_be_ordered(tmp_path: Path) -> None:
    from verifier.policy import check_policy_file

    text = GOLDEN.read_text(encoding="utf-8")
    old = '{ from = 2023-01-01, value = 1, reference = { status = "seed"'
    assert text.count(old) == 1
    p = tmp_path / "t.toml"
    p.write_text(text.replace(old, old.replace("value = 1", "value = 5")), encoding="utf-8")
    p.write_text(
        p.read_text(encoding="utf-8").replace(
            '{ from = 2023-01-01, value = 6, reference = { status = "seed"',
            '{ from = 2023-01-01, value = 4, reference = { status = "seed"',
        ),
        encoding="utf-8",
    )
    [prob] = check_policy_file(p)
    assert prob.parameter == "taper_max_months"
    assert "exceeds" in prob.message


# --------------------------------------------------------------------------- item 8


def county(
    region: str,
    members: tuple[Member, ...],
    *,
    hukou: HukouNature = HukouNature.RURAL,
    deductions: tuple[Deduction, ...] = (),
) -> dict[str, Any]:
    day = date(2025, 6, 10)
    start, end = date(2024, 6, 1), date(2025, 5, 31)
    wages = income(960000, start=start, end=end)
    inp = AssessmentInput(
        region,
        day,
        hukou,
        members,
        records={
            i: tuple(rs) + ((wages,) if i == 0 else ())
            for i, rs in evidence_as_declared(members, deductions, start, end).items()
        },
        # Every department answered: the evidence ones confirm the declaration.
        sources={m.index: dict.fromkeys(SourceKind, SourceStatus.FOUND) for m in members},
        deductions=deductions,
    )
    return assess(inp, load_policy(region)).to_json()


ILL = (adult(0), adult(1, 45, serious_illness=True))
RECEIPT = (Deduction(DeductionKind.ILLNESS, 600000, "INV-1", 1),)


@pytest.mark.parametrize("region", ["370322", "370305"])
@pytest.mark.parametrize("hukou", [HukouNature.RURAL, HukouNature.URBAN])
def test_gaoqing_and_linzi_bands_are_of_the_urban_standard(region: str, hukou: HukouNature) -> None:
    # 2025 urban S 98000 (rural 80000): 重特大疾病 3–12 × 98000 = 294000–1176000 for rural
    # and urban households alike; the old engine used the household's own (rural) S.
    p = prog(county(region, ILL, hukou=hukou, deductions=RECEIPT), "linshi")
    assert p["band"] == "illness"
    assert p["range_fen"] == {"min": 294000, "max": 1176000}
    assert p["ranges_fen"] == {
        "illness": {"min": 294000, "max": 1176000},
        "schooling": {"min": 294000, "max": 588000},
    }
    assert p["case_by_case"] is True
    [note] = [r for r in p["reasons"] if r["rule"] == "linshi.case_by_case"]
    assert "不是硬性上限" in note["text"] and "一事一议" in note["text"]
    doc = {"370322": "高政字〔2021〕27号", "370305": "临政字〔2021〕75号"}[region]
    assert doc in note["reference"]


def test_gaoqing_bands_answer_the_member_not_the_receipt() -> None:
    # A medical receipt, nobody seriously ill, nobody in school: no band; fallback said.
    p = prog(county("370322", (adult(0), adult(1)), deductions=RECEIPT), "linshi")
    assert (p["band"], p["range_fen"]) == (None, None)
    assert "国发〔2014〕47号" in p["fallback"]
    [fb] = [r for r in p["reasons"] if r["rule"] == "linshi.fallback"]
    assert fb["text"] == p["fallback"]
    # A child in school, school fees: 就学 3–6 × 98000.
    kid = (adult(0), Member(1, "child", age=12, in_school=True))
    fees = (Deduction(DeductionKind.SCHOOLING, 200000, "FEE-1", 1),)
    assert prog(county("370322", kid, deductions=fees), "linshi")["range_fen"] == {
        "min": 294000,
        "max": 588000,
    }
    # A seriously ill member without any receipt: the band, but expenses need review.
    p = prog(county("370322", ILL), "linshi")
    assert p["band"] == "illness"
    assert reason({"assessments": {"linshi": p}}, "linshi", "linshi.rigid_expense")["outcome"] == (
        "NEEDS_REVIEW"
    )


@pytest.mark.parametrize("region", ["370281", "371522"])
def test_jiaozhou_and_shenxian_get_no_bands_and_say_so(region: str) -> None:
    p = prog(county(region, ILL, deductions=RECEIPT), "linshi")
    assert (p["range_fen"], p["ranges_fen"], p["band"]) == (None, {}, None)
    assert p["case_by_case"] is False
    assert p["fallback"].startswith("本地政策文件未规定临时救助金额档次")
    assert "国发〔2014〕47号" in p["fallback"]
    assert p["outcome"] == "ELIGIBLE"  # the program stands; only the amount has no band
    assert "无本地档次，按省级和国家规定确定救助金额" in explain(
        county(region, ILL, deductions=RECEIPT)
    )


def test_jixi_bands_are_emergency_and_expense_of_the_monthly_standard() -> None:
    p = prog(county("341824", ILL, deductions=RECEIPT), "linshi")
    assert p["band"] == "expense"
    assert p["ranges_fen"] == {
        "emergency": {"min": 160000, "max": 320000},
        "expense": {"min": 160000, "max": 800000},
    }
    assert p["case_by_case"] is True


# --------------------------------------------------------------------------- item 10


def test_report_marks_every_example_value_it_used() -> None:
    j = county("370322", ILL, deductions=RECEIPT)
    used = j["policy"]["parameters_used"]
    examples = j["policy"]["example_parameters"]
    assert examples == sorted(n for n, e in used.items() if e["reference"]["status"] == "example")
    assert "dibao_standard_rural" in examples
    assert "tekun_minor_age" not in examples and "fen_tie_rule" not in examples
    assert used["tekun_minor_age"]["value"] == 18
    assert used["tekun_minor_age"]["reference"]["status"] == "seed"
    assert used["tekun_minor_age"]["reference"]["document"] == "高政字〔2021〕27号"
    assert used["fen_tie_rule"]["reference"]["status"] == "convention"
    # Each reason names the example parameters it rests on.
    r = reason(j, "dibao", "dibao.income")
    assert r["example_parameters"] == ["dibao_standard_rural"]
    assert "示例值" in r["reference"]
    r = reason(j, "linshi", "linshi.case_by_case")
    assert r["example_parameters"] == []
    assert "注意：本次评估使用了" in explain(j)


def test_example_values_in_force_are_listed_by_the_policy() -> None:
    p = load_policy("370322")
    names = p.examples_in_force(date(2025, 6, 10))
    assert "dibao_standard_urban" in names
    assert "linshi_illness_min_multiplier" not in names
    assert POLICY.examples_in_force(date(2025, 6, 10))  # the golden file is all tests


# --------------------------------------------------------------------------- boundaries


@pytest.mark.parametrize("bad", ["370322\n", "３７０３２２", "37032２", "370322 ", "\u0663" * 6])
def test_region_codes_are_six_ascii_digits_by_full_match(bad: str) -> None:
    from verifier.policy import PolicyError

    with pytest.raises(ValueError, match="6-digit"):
        AssessmentInput(bad, date(2025, 3, 10), HukouNature.URBAN, (adult(0),))
    with pytest.raises(PolicyError, match="6-digit"):
        load_policy(bad)


def test_declared_income_is_compared_on_the_exact_monthly_figure() -> None:
    # Found 720005 ÷ 12 = 720005/12 = 60000.42 a month; declared 50000: the difference
    # (720005 − 600000)/12 = 120005/12 = 10000.42 exceeds the tolerance 10000 → reported. (Rounded first, found was 60000 and
    # the difference 10000 = tolerance was not reported.) 720000 → exactly 10000 → not.
    decl = Declaration(income=(DeclaredIncome(IncomeCategory.WAGES, 50000),))
    j = run(household(1, {0: [income(720005)]}, declaration=decl))
    [d] = j["discrepancies"]
    assert (d["found"], d["tolerance"]) == (60000, 10000)
    assert d["exact"]["found"] == "720005/12"
    assert d["exact"]["difference"] == "120005/12"
    assert "精确值 120005/12 分" in d["text"]
    assert run(household(1, {0: [income(720000)]}, declaration=decl))["discrepancies"] == []
