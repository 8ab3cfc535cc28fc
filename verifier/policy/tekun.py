"""特困人员: the basic-living standard and each member's finding."""

from __future__ import annotations

from verifier.domain.household import HukouNature, Purpose, SupporterStatus
from verifier.domain.money import times, yuan
from verifier.policy.aggregate import MemberAggregate
from verifier.policy.checks import (
    EXPENSES,
    asset_reasons,
    completeness_reason,
    fact_reasons,
    listed_member_reasons,
    own_income_reason,
    registration_reasons,
)
from verifier.policy.context import Context
from verifier.policy.findings import (
    JsonScalar,
    MemberResult,
    Outcome,
    ProgramResult,
    Reason,
    best,
    worst,
)
from verifier.policy.inputs import Member
from verifier.policy.specs import P
from verifier.policy.typed import Named


def tekun(ctx: Context) -> ProgramResult:
    urban = ctx.inp.hukou is HukouNature.URBAN
    mparam = P.tekun_multiplier_urban if urban else P.tekun_multiplier_rural
    mult = ctx.snap.get(mparam)
    # The basic-living standard is an amount paid: rounded once, here.
    t = times(ctx.standard, mult)
    results = tuple(
        _tekun_member(ctx, m, t) for m in sorted(ctx.inp.members, key=lambda m: m.index)
    )
    outcome = best(r.outcome for r in results)
    amounts = [r.amount_fen for r in results if r.amount_fen is not None]
    note = ctx.reason(
        "tekun.standard",
        None,
        "tekun",
        (ctx.std, mparam),
        {"standard_fen": ctx.standard, "multiplier": str(mult), "tekun_standard_fen": t},
        f"特困人员基本生活标准 = {yuan(ctx.standard)} 元 × {mult} = {yuan(t)} 元/月",
    )
    return ProgramResult(
        Purpose.TEKUN,
        outcome,
        (note,),
        amount_fen=sum(amounts) if amounts else None,
        standard_fen=t,
        members=results,
    )


def _tekun_member(ctx: Context, m: Member, t: int) -> MemberResult:
    snap = ctx.snap
    ma: MemberAggregate = ctx.agg.member(m.index)
    reasons: list[Reason] = []
    elderly_age = snap.tekun_elderly_age
    minor_age = snap.tekun_minor_age
    grades = set(snap.tekun_disability_grades)
    age = m.age_on(ctx.day)
    params: tuple[Named, ...] = (P.tekun_elderly_age, P.tekun_minor_age, P.tekun_disability_grades)
    values: dict[str, JsonScalar] = {
        "age": age,
        "elderly_age": elderly_age,
        "minor_age": minor_age,
        "disability_grade": m.disability_grade,
    }
    kinds = []
    if age is not None and age >= elderly_age:
        kinds.append(f"{age} 周岁老年人")
    if age is not None and age < minor_age:
        kinds.append(f"未满 {minor_age} 周岁未成年人")
    if m.disability_grade in grades:
        kinds.append(f"{m.disability_grade} 级残疾人")
    if kinds:
        reasons.append(
            ctx.reason(
                "tekun.category",
                Outcome.ELIGIBLE,
                "tekun",
                params,
                values,
                f"成员 {m.index} 属于：{'、'.join(kinds)}（无劳动能力情形）",
                m.index,
            )
        )
    elif age is None or m.able_to_work is False:
        reasons.append(
            ctx.reason(
                "tekun.category",
                Outcome.NEEDS_REVIEW,
                "tekun",
                params,
                values,
                f"成员 {m.index} "
                + ("年龄未知" if age is None else "登记为无劳动能力")
                + "，是否属于特困认定的无劳动能力情形需人工认定",
                m.index,
            )
        )
    else:
        reasons.append(
            ctx.reason(
                "tekun.category",
                Outcome.INELIGIBLE,
                "tekun",
                params,
                values,
                f"成员 {m.index} {age} 周岁，不属于老年人、未成年人或规定等级的残疾人",
                m.index,
            )
        )

    sup = m.supporter
    sup_outcome = {
        SupporterStatus.NONE: Outcome.ELIGIBLE,
        SupporterStatus.INCAPABLE: Outcome.ELIGIBLE,
        SupporterStatus.CAPABLE: Outcome.INELIGIBLE,
        SupporterStatus.UNKNOWN: Outcome.NEEDS_REVIEW,
    }[sup]
    sup_text = {
        SupporterStatus.NONE: "无法定赡养、抚养、扶养义务人",
        SupporterStatus.INCAPABLE: "法定义务人无履行义务能力",
        SupporterStatus.CAPABLE: "有具备履行能力的法定义务人",
        SupporterStatus.UNKNOWN: "法定义务人情况未核实，需人工认定",
    }[sup]
    reasons.append(
        ctx.reason(
            "tekun.supporter",
            sup_outcome,
            "tekun",
            (),
            {"supporter": sup.value},
            f"成员 {m.index} {sup_text}",
            m.index,
        )
    )
    own = ma.monthly_net_income_exact
    reasons.append(own_income_reason(ctx, "tekun", "tekun", m.index, own, "（无生活来源）"))
    reasons += asset_reasons(
        ctx, "tekun", "tekun", ma.assets, 1, P.dibao_financial_asset_months, m.index
    )
    reasons.append(completeness_reason(ctx, "tekun", ma.missing, m.index))
    reasons += registration_reasons(ctx, "tekun", ctx.agg.cancelled_registrations, m.index)
    reasons += fact_reasons(ctx, "tekun", ("disability", "employment", "alive", *EXPENSES), m.index)
    reasons += listed_member_reasons(ctx, "tekun", m.index)
    outcome = worst(r.outcome for r in reasons)
    return MemberResult(
        m.index, "tekun", outcome, t if outcome is not Outcome.INELIGIBLE else None, tuple(reasons)
    )
