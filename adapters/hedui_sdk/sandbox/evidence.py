"""What the 医保, 残联, 教育, 人社 就业 and 民政 departments hold on a synthetic household.

Drawn from each member's plan (age, disability grade, serious illness) and from what the
other departments already hold (wages name the employer, unemployment benefit means a
失业登记), so the sources agree with each other: a disabled member has a certificate, a
seriously ill one a certified diagnosis and large bills, a child of school age an
enrolment, a married couple one marriage registration. Each household draws from its own
:class:`random.Random`, so these facts leave every other department's bytes as they were.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from hedui_sdk.contract import SourceKind
from hedui_sdk.records import (
    CivilEvent,
    DiagnosisKind,
    DisabilityType,
    EducationLevel,
    EmploymentStatus,
)
from hedui_sdk.sandbox.composition import MemberPlan
from hedui_sdk.sandbox.counties import County
from hedui_sdk.sandbox.economics import Ledger, place_name
from hedui_sdk.sandbox.evidence_facts import (
    CivilFact,
    DiagnosisFact,
    DisabilityFact,
    EmploymentFact,
    EnrolmentFact,
    MedicalExpenseFact,
)
from hedui_sdk.sandbox.facts import IncomeFact
from hedui_sdk.sandbox.numbering import RecordNumbers
from hedui_sdk.sandbox.people import Profile, Relation

_DISABILITY_TYPES = {
    DisabilityType.PHYSICAL: 35, DisabilityType.HEARING: 15, DisabilityType.MENTAL: 15,
    DisabilityType.VISUAL: 12, DisabilityType.INTELLECTUAL: 10, DisabilityType.MULTIPLE: 10,
    DisabilityType.SPEECH: 3,
}  # fmt: skip
_CATASTROPHIC = ("恶性肿瘤", "尿毒症", "白血病", "重症再生障碍性贫血", "器官移植术后")
_CHRONIC = ("高血压（重症）", "糖尿病", "慢性心力衰竭", "慢性阻塞性肺疾病", "脑卒中后遗症")
_HIGHER_SHARE = {
    Profile.LOW_INCOME: 0.3, Profile.NEAR_POVERTY: 0.4, Profile.MODEST: 0.55, Profile.WELL_OFF: 0.7
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class EvidenceContext:
    """The county, the numbering and the months of history a household is drawn for."""

    county: County
    urban: bool
    profile: Profile
    months: tuple[tuple[date, date], ...]
    numbers: RecordNumbers
    as_of: date


def household_evidence(
    rng: random.Random, ctx: EvidenceContext, drafts: Sequence[tuple[MemberPlan, Ledger]]
) -> None:
    """Add the five departments' facts to each member's ledger (applicant first)."""
    for plan, ledger in drafts:
        _disability(rng, ctx, plan, ledger)
        _medical(rng, ctx, plan, ledger)
        _schooling(rng, ctx, plan, ledger)
        _employment(rng, ctx, ledger)
    _marriage(rng, ctx, drafts)


def _day_before(rng: random.Random, as_of: date, lo_days: int, hi_days: int) -> date:
    return as_of - timedelta(days=rng.randint(lo_days, hi_days))


def _since_birth(rng: random.Random, as_of: date, age: int, lo_days: int, hi_days: int) -> date:
    """A day ``lo_days`` to ``hi_days`` before ``as_of``, but not before the person was born
    (``age`` whole years ago at most)."""
    hi = max(0, min(hi_days, age * 365))
    return _day_before(rng, as_of, min(lo_days, hi), hi)


def _disability(rng: random.Random, ctx: EvidenceContext, plan: MemberPlan, ledger: Ledger) -> None:
    if plan.disability_grade is None:
        return
    kind = rng.choices(list(_DISABILITY_TYPES), weights=list(_DISABILITY_TYPES.values()))[0]
    issued = _since_birth(rng, ctx.as_of, plan.age, 30, 3600)
    # 残疾人证 (third generation) are valid for ten years (from a 29 February: from the 28th).
    valid_until = date(issued.year + 10, issued.month, min(issued.day, 28)) - timedelta(days=1)
    ledger.add(SourceKind.DISABILITY, DisabilityFact(
        ctx.numbers.next("DPF"), kind, plan.disability_grade, issued, valid_until,
    ))  # fmt: skip


def _medical(rng: random.Random, ctx: EvidenceContext, plan: MemberPlan, ledger: Ledger) -> None:
    hospital = f"{ctx.county.name}人民医院"
    clinic = f"{place_name(ctx.county.name)}镇卫生院"
    if plan.serious_illness:
        catastrophic = rng.random() < 0.6
        certified = _since_birth(rng, ctx.as_of, plan.age, 60, 2000)
        ledger.add(SourceKind.MEDICAL_INSURANCE, DiagnosisFact(
            ctx.numbers.next("MI"),
            DiagnosisKind.CATASTROPHIC if catastrophic else DiagnosisKind.CHRONIC_SPECIAL,
            rng.choice(_CATASTROPHIC if catastrophic else _CHRONIC), certified,
            None if catastrophic else date(ctx.as_of.year + rng.randint(1, 2), 12, 31),
        ))  # fmt: skip
        for _ in range(rng.randint(1, 3)):
            _bill(rng, ctx, ledger, "inpatient", f"{ctx.county.prefecture}中心医院",
                  (15000, 120000), (50, 70), stay=True)  # fmt: skip
        for start, end in ctx.months[-rng.randint(4, len(ctx.months)) :]:
            _bill(rng, ctx, ledger, "outpatient", hospital, (300, 1500), (50, 65), at=(start, end))
        return
    elderly = plan.age >= 60
    if rng.random() < (0.5 if elderly else 0.15):
        for _ in range(rng.randint(1, 4 if elderly else 2)):
            kind = rng.choice(("outpatient", "pharmacy"))
            where = clinic if kind == "outpatient" else f"{place_name(ctx.county.name)}大药房"
            _bill(rng, ctx, ledger, kind, where, (100, 1500 if elderly else 800), (30, 55))
    if elderly and rng.random() < 0.1:
        _bill(rng, ctx, ledger, "inpatient", hospital, (5000, 20000), (55, 70), stay=True)


def _bill(
    rng: random.Random,
    ctx: EvidenceContext,
    ledger: Ledger,
    kind: str,
    provider: str,
    yuan: tuple[int, int],
    fund_percent: tuple[int, int],
    *,
    stay: bool = False,
    at: tuple[date, date] | None = None,
) -> None:
    """One settled bill: a stay of 5 to 20 days, a month's outpatient visits, or one visit."""
    if at is None:
        first, last = ctx.months[0][0], ctx.months[-1][1]
        start = first + timedelta(days=rng.randint(0, (last - first).days - 21))
        end = start + timedelta(days=rng.randint(5, 20)) if stay else start
    else:
        start, end = at
    total = rng.randint(*yuan) * 100
    fund = total * rng.randint(*fund_percent) // 100
    ledger.add(SourceKind.MEDICAL_INSURANCE, MedicalExpenseFact(
        ctx.numbers.next("MI"), kind, start, end, total, fund, total - fund, provider,
    ))  # fmt: skip


def _level(age: int, vocational: bool, higher: bool) -> EducationLevel | None:
    """The level a pupil is at who is ``age`` at the start of a school year."""
    if 3 <= age <= 5:
        return EducationLevel.PRESCHOOL
    if 6 <= age <= 11:
        return EducationLevel.PRIMARY
    if 12 <= age <= 14:
        return EducationLevel.JUNIOR_SECONDARY
    if 15 <= age <= 17:
        return EducationLevel.VOCATIONAL if vocational else EducationLevel.SENIOR_SECONDARY
    if 18 <= age <= 21 and higher:
        return EducationLevel.HIGHER
    return None


_FEES_YUAN = {
    EducationLevel.PRESCHOOL: (2400, 6000), EducationLevel.PRIMARY: (0, 0),
    EducationLevel.JUNIOR_SECONDARY: (0, 900), EducationLevel.SENIOR_SECONDARY: (1600, 3200),
    EducationLevel.VOCATIONAL: (0, 1200), EducationLevel.HIGHER: (6000, 10500),
}  # fmt: skip
_SCHOOLS = {
    EducationLevel.PRESCHOOL: "中心幼儿园", EducationLevel.PRIMARY: "实验小学",
    EducationLevel.JUNIOR_SECONDARY: "第二中学", EducationLevel.SENIOR_SECONDARY: "第一中学",
    EducationLevel.VOCATIONAL: "职业中等专业学校",
}  # fmt: skip


def _schooling(rng: random.Random, ctx: EvidenceContext, plan: MemberPlan, ledger: Ledger) -> None:
    """One enrolment per school year (1 September to 15 July) that overlaps the history."""
    if not 3 <= plan.age <= 22:
        return
    vocational = rng.random() < 0.35
    higher = rng.random() < _HIGHER_SHARE[ctx.profile]
    current = ctx.as_of.year if ctx.as_of >= date(ctx.as_of.year, 9, 1) else ctx.as_of.year - 1
    first_month = ctx.months[0][0]
    for year in range(first_month.year - 1, current + 1):
        start, end = date(year, 9, 1), date(year + 1, 7, 15)
        if end < first_month:
            continue
        level = _level(plan.age - (current - year), vocational, higher)
        if level is None:
            continue
        if level is EducationLevel.HIGHER:
            school = f"{ctx.county.prefecture[:-1]}职业技术学院"
        else:
            school = f"{place_name(ctx.county.name)}{_SCHOOLS[level]}"
        fees = rng.randint(*_FEES_YUAN[level]) * 100
        ledger.add(SourceKind.EDUCATION, EnrolmentFact(
            ctx.numbers.next("EDU"), level, school, start, None if year == current else end, fees,
        ))  # fmt: skip


def _employment(rng: random.Random, ctx: EvidenceContext, ledger: Ledger) -> None:
    """就业登记 for each employer that paid wages, 失业登记 where benefit was paid.

    A job already held when the history starts was registered some time before it.
    """
    first_start, last_end = ctx.months[0][0], ctx.months[-1][1]
    spans: dict[str, tuple[date, date]] = {}
    benefit: tuple[date, date] | None = None
    for source in (SourceKind.TAX, SourceKind.SOCIAL_INSURANCE):
        for fact in ledger.by_source.get(source, ()):
            if not isinstance(fact, IncomeFact):
                continue
            if fact.kind == "salary" and fact.payer:
                lo, hi = spans.get(fact.payer, (fact.period_start, fact.period_end))
                spans[fact.payer] = (min(lo, fact.period_start), max(hi, fact.period_end))
            elif fact.kind == "unemployment_benefit":
                lo, hi = benefit or (fact.period_start, fact.period_end)
                benefit = (min(lo, fact.period_start), max(hi, fact.period_end))
    for employer, (start, end) in spans.items():
        if start == first_start:
            start = _day_before(rng, first_start, 30, 3650)
        ledger.add(SourceKind.EMPLOYMENT, EmploymentFact(
            ctx.numbers.next("EMP"), EmploymentStatus.EMPLOYED, employer, start,
            None if end >= last_end else end,
        ))  # fmt: skip
    if benefit is not None:
        start, end = benefit
        ledger.add(SourceKind.EMPLOYMENT, EmploymentFact(
            ctx.numbers.next("EMP"), EmploymentStatus.UNEMPLOYED_REGISTERED, "", start,
            None if end >= last_end else end,
        ))  # fmt: skip


def _marriage(
    rng: random.Random, ctx: EvidenceContext, drafts: Sequence[tuple[MemberPlan, Ledger]]
) -> None:
    """The couple's marriage registration; a lone parent may be divorced."""
    applicant, applicant_ledger = drafts[0]
    spouse = next((d for d in drafts[1:] if d[0].relation is Relation.SPOUSE), None)
    has_children = any(p.relation is Relation.CHILD for p, _ in drafts)
    if spouse is None and not (has_children and applicant.age >= 30 and rng.random() < 0.4):
        return
    younger = applicant.age if spouse is None else min(applicant.age, spouse[0].age)
    married_on = _anniversary(rng, ctx.as_of, max(0, younger - rng.randint(20, 30)))
    couple = [applicant_ledger] if spouse is None else [applicant_ledger, spouse[1]]
    for ledger in couple:
        ledger.add(SourceKind.CIVIL_AFFAIRS, CivilFact(
            ctx.numbers.next("CA"), CivilEvent.MARRIED, married_on,
        ))  # fmt: skip
    if spouse is None:
        divorced_on = _anniversary(rng, ctx.as_of, rng.randint(0, ctx.as_of.year - married_on.year))
        applicant_ledger.add(SourceKind.CIVIL_AFFAIRS, CivilFact(
            ctx.numbers.next("CA"), CivilEvent.DIVORCED, max(divorced_on, married_on),
        ))  # fmt: skip


def _anniversary(rng: random.Random, as_of: date, years_ago: int) -> date:
    """A day ``years_ago`` years before ``as_of`` (never after it)."""
    return min(as_of, date(as_of.year - years_ago, rng.randint(1, 12), rng.randint(1, 28)))
