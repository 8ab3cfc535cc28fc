"""The rules take members' circumstances and 刚性支出 from the departments that answered
(残联, 医保, 教育, 人社, 民政), list every difference from the declaration, and send a rule
resting on an unconfirmed declaration to review where the region requires that fact verified.

Defaults as in ``assess_helpers``: golden policy (which states no ``fact_basis``, so it
accepts declarations), request 2025-03-10, window 2024-03-01..2025-02-28 = 12 months,
urban S = 100000 fen; tolerance max(10000 fen, 5 % of the found figure). ``STRICT`` is the
same policy requiring every fact verified. Amounts are worked out by hand beside each case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pytest

from hedui_sdk import (
    CivilEvent,
    CivilStatusRecord,
    DiagnosisKind,
    EmploymentRecord,
    EmploymentStatus,
    Record,
    SourceKind,
)
from tests.unit.assess_helpers import (
    GOLDEN,
    INCOME_AND_ASSET_SOURCES,
    adult,
    bill,
    certificate,
    diagnosis,
    enrolment,
    household,
    income,
    outcome,
    prog,
    prov,
    reason,
    run,
)
from verifier.policy import (
    AssessmentInput,
    Deduction,
    DeductionKind,
    Member,
    SourceStatus,
    SupporterStatus,
    assess,
    explain,
)
from verifier.policy.params import check_policy_bytes
from verifier.policy.specs import FACTS

_BASES = "".join(
    f'\n[parameters.fact_basis_{fact}]\nentries = [\n  {{ from = 2023-01-01, value = "verified",'
    f' reference = {{ status = "example", note = "测试值" }} }},\n]\n'
    for fact in FACTS
)
_problems, _strict = check_policy_bytes(
    (GOLDEN / "policy_test.toml").read_bytes() + _BASES.encode(), "strict.toml"
)
assert _strict is not None, _problems
STRICT = _strict


def answers(members: int, **evidence: SourceStatus) -> dict[int, dict[SourceKind, SourceStatus]]:
    """Every income and asset source FOUND, and the named evidence sources as given."""
    extra = {SourceKind(k): v for k, v in evidence.items()}
    return {
        i: {**dict.fromkeys(INCOME_AND_ASSET_SOURCES, SourceStatus.FOUND), **extra}
        for i in range(members)
    }


def case(
    members: Sequence[Member],
    records: Mapping[int, Sequence[Record]],
    *,
    deductions: Sequence[Deduction] = (),
    **evidence: SourceStatus,
) -> AssessmentInput:
    return household(
        members,
        records,
        deductions=deductions,
        sources=answers(len(members), **evidence),
    )


def strict(inp: AssessmentInput) -> dict[str, Any]:
    return assess(inp, STRICT).to_json()


def discrepancies(j: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [d for d in j["discrepancies"] if d["kind"] == kind]


def finding(j: dict[str, Any], fact: str, member: int | None) -> dict[str, Any]:
    [f] = [f for f in j["facts"]["findings"] if f["fact"] == fact and f["member"] == member]
    return dict(f)


FOUND, NOT_FOUND = SourceStatus.FOUND, SourceStatus.NOT_FOUND

# --------------------------------------------------------------------------- disability


def test_declared_severely_disabled_without_certificate() -> None:
    # As g25 (3 members, wages 4320000 on member 0: y = 120000 ≥ S, household INELIGIBLE),
    # but 残联 answered that member 1 holds no certificate: the declared grade 1 is not the
    # fact, so no 单人户 route; 低保 INELIGIBLE (on the declaration alone it was ELIGIBLE,
    # 100000). The difference is listed: declared grade 1, found 0.
    ms = [adult(0), adult(1, 30, disability_grade=1), adult(2)]
    records = {0: [income(4320000)]}
    assert outcome(run(case(ms, records)), "dibao") == "ELIGIBLE"  # declared, not verified
    j = run(case(ms, records, disability=NOT_FOUND))
    assert outcome(j, "dibao") == "INELIGIBLE"
    assert prog(j, "dibao")["members"] == []
    [d] = discrepancies(j, "disability")
    assert (d["category"], d["declared"], d["found"], d["unit"]) == ("grade", 1, 0, "grade")
    assert "一级残疾" in d["text"] and "无有效残疾人证" in d["text"]
    f = finding(j, "disability", 1)
    assert (f["basis"], f["status"], f["declared"], f["found"]) == (
        "verified",
        "NOT_FOUND",
        1,
        0,
    )


def test_certificate_not_declared_counts_and_is_listed() -> None:
    # Member 1 declared nothing; 残联 shows a grade-2 certificate: 单人户 (grades 1–2) for
    # member 1, age 30, household y 120000 < 1.5 × S → ELIGIBLE, amount 100000 − 0.
    ms = [adult(0), adult(1, 30), adult(2)]
    j = run(case(ms, {0: [income(4320000)], 1: [certificate(2, "CERT-7")]}, disability=FOUND))
    assert outcome(j, "dibao") == "ELIGIBLE"
    [single] = prog(j, "dibao")["members"]
    assert (single["member"], single["outcome"], single["amount_fen"]) == (1, "ELIGIBLE", 100000)
    [d] = discrepancies(j, "disability")
    assert (d["declared"], d["found"]) == (0, 2)
    assert [e["record_id"] for e in d["evidence"]] == ["CERT-7"]
    assert finding(j, "disability", 1)["found"] == 2


def test_expired_certificate_is_no_certificate() -> None:
    # A certificate valid until 2025-01-31 is not in force on 2025-03-10.
    from dataclasses import replace

    old = replace(certificate(1), valid_until=date(2025, 1, 31))
    ms = [adult(0), adult(1, 30, disability_grade=1), adult(2)]
    j = run(case(ms, {0: [income(4320000)], 1: [old]}, disability=FOUND))
    assert outcome(j, "dibao") == "INELIGIBLE"
    assert discrepancies(j, "disability")[0]["found"] == 0


# --------------------------------------------------------------------------- 刚性支出


ILL = [adult(0), adult(1, 45, serious_illness=True)]
WAGES = {0: [income(2400000)]}


def _medical(declared: int, found: int) -> dict[str, Any]:
    records: dict[int, list[Record]] = {0: list(WAGES[0]), 1: [diagnosis()]}
    if found:
        records[1].append(bill(found, "BILL-1"))
    deds = [Deduction(DeductionKind.ILLNESS, declared, "INV-1", 1)]
    return run(case(ILL, records, deductions=deds, medical_insurance=FOUND))


def test_medical_bills_above_the_declared_amount() -> None:
    # Declared 300000; 医保 shows 600000 paid by the family. Deducted: 600000, so
    # y = (2400000 − 600000) ÷ 12 ÷ 2 = 75000 and the top-up (100000 − 75000) × 2 = 50000
    # (on the declaration it would be y 87500, top-up 25000). Tolerance max(10000, 5 % ×
    # 600000 = 30000) = 30000 < 300000 → listed.
    j = _medical(300000, 600000)
    assert j["aggregates"]["deductions_fen"]["illness"] == 600000
    assert j["aggregates"]["monthly_per_capita_income_fen"] == 75000
    assert prog(j, "dibao")["amount_fen"] == 50000
    [d] = discrepancies(j, "rigid_expense")
    assert (d["category"], d["declared"], d["found"], d["difference"], d["tolerance"]) == (
        "illness",
        300000,
        600000,
        300000,
        30000,
    )
    assert d["unit"] == "fen"
    [declared] = j["facts"]["declared_deduction_items"]
    assert (declared["amount_fen"], declared["evidence"]) == (300000, "INV-1")
    [used] = j["aggregates"]["deduction_items"]
    assert (used["amount_fen"], used["evidence"], used["member"]) == (
        600000,
        "medical_insurance:BILL-1",
        1,
    )
    f = finding(j, "medical_costs", None)
    assert (f["basis"], f["declared"], f["found"]) == ("verified", 300000, 600000)


def test_medical_bills_below_the_declared_amount() -> None:
    # Declared 600000; 医保 shows 200000. y = (2400000 − 200000) ÷ 24 = 275000/3 =
    # 91666.67; top-up (100000 − 275000/3) × 2 = 50000/3 = 16666.67 → 16667. Tolerance
    # max(10000, 10000) = 10000 < 400000 → listed, found less than declared.
    j = _medical(600000, 200000)
    assert j["aggregates"]["monthly_per_capita_income_exact"] == "275000/3"
    assert prog(j, "dibao")["amount_fen"] == 16667
    [d] = discrepancies(j, "rigid_expense")
    assert (d["declared"], d["found"], d["difference"], d["tolerance"]) == (
        600000,
        200000,
        -400000,
        10000,
    )


def test_medical_bills_within_tolerance_are_used_but_not_listed() -> None:
    # Declared 600000, found 590000: tolerance max(10000, 29500) = 29500 ≥ 10000 → not
    # listed; the deduction is still what 医保 shows: y = 1810000 ÷ 24 = 75416.67.
    j = _medical(600000, 590000)
    assert discrepancies(j, "rigid_expense") == []
    assert j["aggregates"]["deductions_fen"]["illness"] == 590000


def test_bills_outside_the_window_count_for_their_share() -> None:
    # Bills 2024-01-01..2024-06-30 (182 days) self-paid 182000: 2024-03-01..06-30 (122 days)
    # lies in the window → 182000 × 122/182 = 122000 deducted.
    records: dict[int, list[Record]] = {
        0: list(WAGES[0]),
        1: [bill(182000, "B", start=date(2024, 1, 1), end=date(2024, 6, 30))],
    }
    j = run(case(ILL, records, medical_insurance=FOUND))
    assert j["aggregates"]["deductions_fen"]["illness"] == 122000


def test_school_fees_found_replace_the_declared_ones() -> None:
    # 教育: member 1 enrolled since the window began, fees 200000; declared 50000.
    ms = [adult(0), adult(1, 16, in_school=True)]
    deds = [Deduction(DeductionKind.SCHOOLING, 50000, "FEE-1", 1)]
    j = run(case(ms, {0: [income(2400000)], 1: [enrolment(200000)]}, deductions=deds,
                 education=FOUND))  # fmt: skip
    assert j["aggregates"]["deductions_fen"]["schooling"] == 200000
    [d] = discrepancies(j, "rigid_expense")
    assert (d["category"], d["declared"], d["found"]) == ("schooling", 50000, 200000)
    assert finding(j, "in_school", 1)["found"] is True
    assert discrepancies(j, "in_school") == []


def test_expenses_stay_declared_until_every_member_is_answered() -> None:
    # 医保 answered for member 1 only: the declared 300000 stands (the other member's bills
    # are unknown), and nothing is listed.
    srcs = answers(2)
    srcs[1][SourceKind.MEDICAL_INSURANCE] = FOUND
    records: dict[int, list[Record]] = {0: list(WAGES[0]), 1: [bill(600000)]}
    deds = [Deduction(DeductionKind.ILLNESS, 300000, "INV-1", 1)]
    j = run(household(ILL, records, deductions=deds, sources=srcs))
    assert j["aggregates"]["deductions_fen"]["illness"] == 300000
    assert discrepancies(j, "rigid_expense") == []
    f = finding(j, "medical_costs", None)
    assert (f["basis"], f["status"], f["found"]) == ("declared", "ABSENT", None)


# --------------------------------------------------------------------------- 民政


def test_deceased_member_still_listed() -> None:
    # 2 members, wages 1200000: y = 50000 < S. 民政 records member 1 deceased on 2024-12-01:
    # the household still counts 2 (as declared), every program goes to review, and the
    # death is listed.
    ms = [adult(0), adult(1, 70, supporter=SupporterStatus.NONE)]
    death = CivilStatusRecord(
        CivilEvent.DECEASED, date(2024, 12, 1), prov("DEATH-1", SourceKind.CIVIL_AFFAIRS)
    )
    j = run(case(ms, {0: [income(1200000)], 1: [death]}, civil_affairs=FOUND))
    assert j["aggregates"]["household_size"] == 2
    for program in ("dibao", "dibao_bianyuan", "linshi", "yinbing_zhipin"):
        assert outcome(j, program) in ("NEEDS_REVIEW", "INELIGIBLE"), program
    assert outcome(j, "dibao") == "NEEDS_REVIEW"
    r = reason(j, "dibao", "dibao.deceased")
    assert (r["outcome"], r["member"], r["values"]["occurred_on"]) == (
        "NEEDS_REVIEW",
        1,
        "2024-12-01",
    )
    [tekun_1] = [m for m in prog(j, "tekun")["members"] if m["member"] == 1]
    assert tekun_1["outcome"] == "NEEDS_REVIEW"
    [d] = discrepancies(j, "deceased")
    assert (d["declared"], d["found"], d["unit"]) == (1, 0, "persons")
    assert "2024-12-01" in d["text"]
    assert finding(j, "alive", 1)["found"] is False


def test_a_death_after_the_request_date_is_not_yet_one() -> None:
    ms = [adult(0), adult(1)]
    later = CivilStatusRecord(
        CivilEvent.DECEASED, date(2025, 4, 1), prov("D", SourceKind.CIVIL_AFFAIRS)
    )
    j = run(case(ms, {0: [income(1200000)], 1: [later]}, civil_affairs=FOUND))
    assert discrepancies(j, "deceased") == []
    assert outcome(j, "dibao") == "ELIGIBLE"


# --------------------------------------------------------------------------- 人社


def test_declared_unable_to_work_but_employed() -> None:
    # 40 years old, declared unable to work, no supporter: 特困 category would go to review;
    # 人社 shows a current employment, so the category does not apply → INELIGIBLE.
    m = adult(0, 40, able_to_work=False, supporter=SupporterStatus.NONE)
    job = EmploymentRecord(
        EmploymentStatus.EMPLOYED,
        "某公司",
        date(2024, 1, 1),
        None,
        prov("EMP-1", SourceKind.EMPLOYMENT),
    )
    assert outcome(run(case([m], {})), "tekun") == "NEEDS_REVIEW"
    j = run(case([m], {0: [job]}, employment=FOUND))
    assert outcome(j, "tekun") == "INELIGIBLE"
    [d] = discrepancies(j, "employment")
    assert (d["category"], d["declared"], d["found"]) == ("able_to_work", 0, 1)


def test_unable_to_work_with_no_registration_is_not_verified() -> None:
    # Declared unable to work; 人社 answered NOT_FOUND (no employment or unemployment
    # registration). Having no registration does not show inability to work, so nothing
    # was verified: the declaration stands as "declared" where the region accepts it, and
    # is "unverified" (the 特困 category goes to review naming 人社) where it requires it.
    m = adult(0, 40, able_to_work=False, supporter=SupporterStatus.NONE)
    inp = case([m], {}, employment=NOT_FOUND, civil_affairs=NOT_FOUND)
    f = finding(run(inp), "employment", 0)
    assert (f["basis"], f["status"], f["declared"], f["found"]) == (
        "declared",
        "NOT_FOUND",
        False,
        None,
    )
    j = strict(inp)
    assert finding(j, "employment", 0)["basis"] == "unverified"
    assert outcome(j, "tekun") == "NEEDS_REVIEW"
    [who] = prog(j, "tekun")["members"]
    [r] = [r for r in who["reasons"] if r["rule"] == "tekun.evidence"]
    assert (r["values"]["fact"], r["values"]["status"]) == ("employment", "NOT_FOUND")
    assert discrepancies(j, "employment") == []


def test_a_certified_diagnosis_in_force_is_a_serious_illness() -> None:
    # Declared seriously ill; 医保 certifies a 门诊慢特病 in force → seriously ill, nothing
    # listed. One that expired on 2025-01-31 is not in force on 2025-03-10 → listed.
    from dataclasses import replace

    ms = [adult(0), adult(1, 45, serious_illness=True)]
    chronic = diagnosis("CH", DiagnosisKind.CHRONIC_SPECIAL)
    j = run(case(ms, {1: [chronic]}, medical_insurance=FOUND))
    assert reason(j, "yinbing_zhipin", "yinbing_zhipin.patient")["outcome"] == "ELIGIBLE"
    assert discrepancies(j, "serious_illness") == []
    expired = replace(chronic, valid_until=date(2025, 1, 31))
    j = run(case(ms, {1: [expired]}, medical_insurance=FOUND))
    assert reason(j, "yinbing_zhipin", "yinbing_zhipin.patient")["outcome"] == "INELIGIBLE"
    [d] = discrepancies(j, "serious_illness")
    assert (d["declared"], d["found"]) == (1, 0)


# --------------------------------------------------------------------------- outages


@pytest.mark.parametrize("status", [SourceStatus.FAILED, SourceStatus.DENIED, SourceStatus.PENDING])
def test_medical_insurance_outage_sends_rules_on_illness_to_review(status: SourceStatus) -> None:
    # Member 1 declared seriously ill with bills of 600000; 医保 did not answer. y =
    # (2400000 − 600000) ÷ 24 = 75000 on the declaration. Where the region accepts the
    # declaration (golden policy), 低保 is ELIGIBLE and the facts say "declared"; where
    # it requires them verified (STRICT), every program resting on them goes to review,
    # naming 医保 and its answer. Nothing answered, so nothing is listed as a difference.
    deds = [Deduction(DeductionKind.ILLNESS, 600000, "INV-1", 1)]
    inp = case(ILL, WAGES, deductions=deds, medical_insurance=status, civil_affairs=NOT_FOUND)
    accepted = run(inp)
    assert outcome(accepted, "dibao") == "ELIGIBLE"
    assert finding(accepted, "serious_illness", 1)["basis"] == "declared"
    assert finding(accepted, "medical_costs", None)["basis"] == "declared"

    j = strict(inp)
    assert j["aggregates"]["monthly_per_capita_income_fen"] == 75000
    assert outcome(j, "dibao") == "NEEDS_REVIEW"
    assert outcome(j, "linshi") == "NEEDS_REVIEW"
    r = reason(j, "yinbing_zhipin", "yinbing_zhipin.evidence")
    assert r["values"]["source"] == "medical_insurance"
    assert r["values"]["status"] == status.value
    assert "医保" in r["text"] and "fact_basis" not in r["text"]
    facts = {r["values"]["fact"] for r in prog(j, "yinbing_zhipin")["reasons"]
             if r["rule"] == "yinbing_zhipin.evidence"}  # fmt: skip
    assert facts == {"serious_illness", "medical_costs"}
    assert finding(j, "serious_illness", 1)["basis"] == "unverified"
    assert j["discrepancies"] == []
    assert "fact_basis_serious_illness" in j["policy"]["parameters_used"]


def test_an_unconfirmed_absence_never_waits_for_a_department() -> None:
    # Nothing declared that 医保 would confirm: its outage changes nothing (民政 answered
    # that both members are alive, which STRICT requires too).
    inp = case(
        [adult(0), adult(1)],
        {0: [income(1200000)]},
        medical_insurance=SourceStatus.FAILED,
        civil_affairs=NOT_FOUND,
    )
    assert outcome(strict(inp), "dibao") == "ELIGIBLE"


def test_every_member_and_fact_says_how_it_was_known() -> None:
    j = run(case([adult(0), adult(1)], {}, disability=FOUND))
    members = {(f["fact"], f["member"]) for f in j["facts"]["findings"]}
    per_member = {"disability", "serious_illness", "in_school", "employment", "alive"}
    assert members == {(f, i) for f in per_member for i in (0, 1)} | {
        ("medical_costs", None),
        ("school_fees", None),
    }
    assert finding(j, "disability", 0)["basis"] == "verified"
    assert finding(j, "in_school", 0)["basis"] == "declared"


def test_explain_shows_how_each_fact_was_known() -> None:
    ms = [adult(0), adult(1, 30, disability_grade=1), adult(2)]
    text = explain(run(case(ms, {0: [income(4320000)]}, disability=NOT_FOUND)))
    assert "【核实情况】" in text
    assert "成员 1 残疾等级：经部门核实；残联（无记录）；申报 1 级，核实 无" in text
    assert "成员 1 在校就学：按申报（本地政策接受申报）；教育（未答复）" in text


def test_a_region_states_each_basis_as_verified_or_declared() -> None:
    bad = _BASES.replace(
        'fact_basis_alive]\nentries = [\n  { from = 2023-01-01, value = "verified"',
        'fact_basis_alive]\nentries = [\n  { from = 2023-01-01, value = "maybe"',
    )
    problems, pol = check_policy_bytes(
        (GOLDEN / "policy_test.toml").read_bytes() + bad.encode(), "bad.toml"
    )
    assert pol is None
    assert [p.parameter for p in problems] == ["fact_basis_alive"]


def test_a_spouse_whose_latest_registration_is_a_divorce() -> None:
    # Listed as the spouse; 民政: married 2010, divorced 2024-05-01 → listed, and review.
    # A later remarriage (2024-11-01) makes the latest registration a marriage: nothing.
    def civil(event: CivilEvent, day: date, rid: str) -> CivilStatusRecord:
        return CivilStatusRecord(event, day, prov(rid, SourceKind.CIVIL_AFFAIRS))

    ms = [adult(0), Member(1, "spouse", age=40)]
    married = civil(CivilEvent.MARRIED, date(2010, 1, 1), "M-1")
    divorced = civil(CivilEvent.DIVORCED, date(2024, 5, 1), "D-1")
    j = run(case(ms, {0: [income(1200000)], 1: [married, divorced]}, civil_affairs=FOUND))
    [d] = discrepancies(j, "spouse_divorced")
    assert (d["declared"], d["found"], d["unit"]) == (1, 0, "persons")
    assert "2024-05-01 离婚" in d["text"] and "（配偶）" in d["text"]
    assert outcome(j, "dibao") == "NEEDS_REVIEW"
    assert reason(j, "dibao", "dibao.divorced")["member"] == 1
    again = civil(CivilEvent.MARRIED, date(2024, 11, 1), "M-2")
    j = run(case(ms, {0: [income(1200000)], 1: [married, divorced, again]}, civil_affairs=FOUND))
    assert discrepancies(j, "spouse_divorced") == []
    assert outcome(j, "dibao") == "ELIGIBLE"
