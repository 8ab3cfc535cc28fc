"""最低生活保障: the household test, 渐退, and the 单人户 route for one member."""

from __future__ import annotations

from verifier.domain.household import Purpose
from verifier.domain.money import fen_text, half_up, yuan
from verifier.policy.checks import (
    EXPENSES,
    asset_reasons,
    completeness_reason,
    fact_reasons,
    listed_member_reasons,
    own_income_reason,
    registration_reasons,
)
from verifier.policy.context import (
    Context,
    fen_values,
    income_line_reason,
    income_sentence,
    ok,
)
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


def _income(ctx: Context) -> tuple[Reason, tuple[int, int] | None]:
    """The household's income against the standard and, above it, the 渐退 ceiling: the
    reason, and the 渐退 range (min, max) in months where 渐退 applies."""
    s, y = ctx.standard, ctx.agg.monthly_per_capita_exact
    values: dict[str, JsonScalar] = {
        **fen_values("monthly_per_capita_income", y),
        "standard_fen": s,
    }
    if ctx.below(y, s):
        sentence = income_sentence("家庭", y, "低于", "低保标准", s)
        return ctx.reason(
            "dibao.income", Outcome.ELIGIBLE, "dibao", (ctx.std,), values, sentence
        ), None
    receiving = Purpose.DIBAO in ctx.inp.current_programs
    ceiling, mult = ctx.line(P.taper_ceiling_multiplier)
    values |= {
        **fen_values("taper_ceiling", ceiling),
        "taper_multiplier": str(mult),
        "currently_receiving": receiving,
    }
    params: tuple[Named, ...] = (
        ctx.std,
        P.taper_ceiling_multiplier,
        P.taper_min_months,
        P.taper_max_months,
    )
    under_ceiling = ctx.below(y, ceiling)
    ceiling_text = f"{mult} 倍标准 {fen_text(ceiling)}"
    taper: tuple[int, int] | None = None
    rule, outcome = "dibao.income", Outcome.INELIGIBLE
    if under_ceiling and receiving:
        taper = (ctx.snap.taper_min_months, ctx.snap.taper_max_months)
        values["taper_min_months"], values["taper_max_months"] = taper
        rule, outcome = "dibao.taper", Outcome.ELIGIBLE
        tail = (
            f"，但低于 {ceiling_text}；现为低保家庭，可渐退 {taper[0]}–{taper[1]} 个月"
            "（具体期限由审核确认机关在此范围内决定）"
        )
    elif under_ceiling:
        tail = f"（低于 {ceiling_text}，但渐退仅适用于现低保家庭）"
    else:
        tail = f"，且不低于 {ceiling_text}"
    sentence = income_sentence("家庭", y, "不低于", "低保标准", s) + tail
    return ctx.reason(rule, outcome, "dibao", params, values, sentence), taper


def dibao(ctx: Context) -> ProgramResult:
    agg, s = ctx.agg, ctx.standard
    y, n = agg.monthly_per_capita_exact, agg.size
    below_standard = ctx.below(y, s)
    income, taper = _income(ctx)
    reasons = [income]
    reasons += asset_reasons(ctx, "dibao", "dibao", agg.assets, n, P.dibao_financial_asset_months)
    reasons.append(completeness_reason(ctx, "dibao", agg.missing))
    reasons += registration_reasons(ctx, "dibao", agg.cancelled_registrations)
    reasons += fact_reasons(ctx, "dibao", ("alive", *EXPENSES))
    reasons += listed_member_reasons(ctx, "dibao")
    household = worst(r.outcome for r in reasons)
    amount: int | None = None
    if household is not Outcome.INELIGIBLE and below_standard:
        # The gap is exact; the amount paid is rounded once (never below 0: a fraction of
        # a fen given to the family by the tie rule pays nothing).
        amount = max(0, half_up((s - y) * n))
        reasons.append(
            ctx.reason(
                "dibao.amount",
                None,
                "dibao",
                (ctx.std,),
                {
                    "standard_fen": s,
                    **fen_values("monthly_per_capita_income", y),
                    "household_size": n,
                    "amount_fen": amount,
                },
                f"参考月补差额 = （{yuan(s)} 元 − {fen_text(y)}）× {n} 人 = {yuan(amount)} 元"
                "（按精确值计算，四舍五入到分一次）",
            )
        )
    if taper is not None and household is Outcome.INELIGIBLE:
        taper = None
    singles = tuple(_single_person(ctx, m) for m in _single_candidates(ctx))
    outcome = best([household, *(m.outcome for m in singles)])
    return ProgramResult(
        Purpose.DIBAO,
        outcome,
        tuple(reasons),
        amount_fen=amount,
        standard_fen=s,
        taper_months=taper,
        members=singles,
    )


def _single_candidates(ctx: Context) -> list[Member]:
    snap = ctx.snap
    grades = set(snap.single_person_disability_grades)
    ill = snap.single_person_serious_illness
    return [
        m
        for m in sorted(ctx.inp.members, key=lambda m: m.index)
        if (m.disability_grade in grades) or (ill and m.serious_illness)
    ]


def _single_person(ctx: Context, m: Member) -> MemberResult:
    """单人户: a severely disabled or seriously ill adult in a household near the line."""
    agg, snap, s = ctx.agg, ctx.snap, ctx.standard
    ma = agg.member(m.index)
    reasons: list[Reason] = []
    min_age = snap.single_person_min_age
    age = m.age_on(ctx.day)
    why = f"重度残疾（{m.disability_grade} 级）" if m.disability_grade else "重病"
    params: tuple[Named, ...] = (
        P.single_person_disability_grades,
        P.single_person_serious_illness,
        P.single_person_min_age,
    )
    if age is None:
        reasons.append(
            ctx.reason(
                "dibao.single_person.age",
                Outcome.NEEDS_REVIEW,
                "dibao",
                params,
                {"age": None, "min_age": min_age},
                f"成员 {m.index} {why}，年龄未知，需核实是否成年",
                m.index,
            )
        )
    else:
        reasons.append(
            ctx.reason(
                "dibao.single_person.age",
                ok(age >= min_age),
                "dibao",
                params,
                {"age": age, "min_age": min_age},
                f"成员 {m.index} {why}，{age} 周岁，"
                f"{'已满' if age >= min_age else '未满'} {min_age} 周岁",
                m.index,
            )
        )
    reasons.append(
        income_line_reason(
            ctx,
            "dibao.single_person.household_income",
            "dibao",
            P.single_person_household_multiplier,
            line_key="ceiling",
            member=m.index,
        )[0]
    )
    reasons += asset_reasons(
        ctx,
        "dibao.single_person",
        "dibao",
        agg.assets,
        agg.size,
        P.bianyuan_financial_asset_months,
        None,
    )
    own = ma.monthly_net_income_exact
    reasons.append(own_income_reason(ctx, "dibao.single_person", "dibao", m.index, own))
    reasons.append(completeness_reason(ctx, "dibao.single_person", agg.missing, m.index))
    reasons += registration_reasons(
        ctx, "dibao.single_person", agg.cancelled_registrations, m.index
    )
    reasons += fact_reasons(
        ctx,
        "dibao.single_person",
        ("disability", "serious_illness", "alive", *EXPENSES),
        m.index,
    )
    reasons += listed_member_reasons(ctx, "dibao.single_person", m.index)
    outcome = worst(r.outcome for r in reasons)
    amount = max(0, half_up(s - own)) if outcome is not Outcome.INELIGIBLE else None
    return MemberResult(m.index, "single_person", outcome, amount, tuple(reasons))
