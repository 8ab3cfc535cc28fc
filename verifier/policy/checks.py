"""Checks every program makes: the asset limits and the completeness of the data."""

from __future__ import annotations

from fractions import Fraction

from verifier.domain.labels import (
    CANCELLATION_LABELS,
    FACT_LABELS,
    SOURCE_LABELS,
    SOURCE_STATUS_LABELS,
    VEHICLE_KIND_LABELS,
    asset_label,
    label,
)
from verifier.domain.money import dec_str, fen_text, yuan
from verifier.policy.aggregate import AssetTotals, CancelledRegistration, MissingSource
from verifier.policy.context import Context, fen_values, ok, who_of
from verifier.policy.facts import EXPENSE_FACTS, FactFinding
from verifier.policy.findings import Outcome, Reason
from verifier.policy.specs import P
from verifier.policy.typed import Named, Param


def asset_reasons(
    ctx: Context,
    rule: str,
    national: str,
    assets: AssetTotals,
    size: int,
    months: Param[int],
    member: int | None = None,
) -> list[Reason]:
    """Every asset limit, for a household (``member`` None) or one person (size 1)."""
    snap, s = ctx.snap, ctx.standard
    who = who_of(member)
    out: list[Reason] = []

    n_months = snap.get(months)
    limit = s * n_months * size
    fin = assets.financial_fen
    cats = "、".join(map(asset_label, snap.financial_asset_categories))
    fin_ok = ctx.at_most(fin, limit)
    out.append(
        ctx.reason(
            f"{rule}.financial_assets",
            ok(fin_ok),
            national,
            (ctx.std, months, P.financial_asset_categories),
            {
                "financial_assets_fen": fin,
                "limit_fen": limit,
                "standard_fen": s,
                "months": n_months,
                "household_size": size,
            },
            f"{who}金融资产合计 {yuan(fin)} 元（{cats}），"
            f"{'不超过' if fin_ok else '超过'}限额 {yuan(limit)} 元"
            f"（标准 {yuan(s)} 元 × {n_months} 个月 × {size} 人）",
            member,
        )
    )

    max_count = snap.real_estate_max_count
    n = assets.real_estate_count
    out.append(
        ctx.reason(
            f"{rule}.real_estate_count",
            ok(n <= max_count),
            national,
            (P.real_estate_max_count,),
            {"real_estate_count": n, "limit": max_count},
            f"{who}名下不动产 {n} 处，{'不超过' if n <= max_count else '超过'}上限 {max_count} 处",
            member,
        )
    )

    per_cap_limit = snap.real_estate_max_area_per_capita_m2
    area = assets.real_estate_area_m2
    unknown = assets.real_estate_area_unknown
    over = area > per_cap_limit * size
    if over:
        area_outcome = Outcome.INELIGIBLE
    elif unknown:
        area_outcome = Outcome.NEEDS_REVIEW
    else:
        area_outcome = Outcome.ELIGIBLE
    per_cap = dec_str(area / size)
    text = (
        f"{who}人均住房面积 {per_cap} 平方米（合计 {dec_str(area)} 平方米 ÷ {size} 人），"
        f"{'超过' if over else '不超过'}上限 {dec_str(per_cap_limit)} 平方米"
    )
    if unknown and not over:
        text += f"；另有 {unknown} 处不动产未记载面积，需人工核实"
    out.append(
        ctx.reason(
            f"{rule}.real_estate_area",
            area_outcome,
            national,
            (P.real_estate_max_area_per_capita_m2,),
            {
                "area_m2": dec_str(area),
                "area_per_capita_m2": per_cap,
                "limit_per_capita_m2": dec_str(per_cap_limit),
                "household_size": size,
                "area_unknown_count": unknown,
            },
            text,
            member,
        )
    )

    vmax = snap.vehicle_max_count
    v = assets.vehicles_counted
    exempt = "、".join(label(VEHICLE_KIND_LABELS, k) for k in snap.vehicle_exempt_kinds) or "无"
    out.append(
        ctx.reason(
            f"{rule}.vehicles",
            ok(v <= vmax),
            national,
            (P.vehicle_max_count, P.vehicle_exempt_kinds),
            {"vehicles_counted": v, "vehicles_exempt": assets.vehicles_exempt, "limit": vmax},
            f"{who}名下非豁免机动车、船 {v} 辆"
            f"（豁免类型：{exempt}；已豁免 {assets.vehicles_exempt} 辆），"
            f"{'不超过' if v <= vmax else '超过'}上限 {vmax} 辆",
            member,
        )
    )

    bmax = snap.business_max_value_fen
    bv = assets.business_value_fen
    b_ok = ctx.at_most(bv, bmax)
    out.append(
        ctx.reason(
            f"{rule}.business",
            ok(b_ok),
            national,
            (P.business_max_value_fen,),
            {"business_count": assets.business_count, "business_value_fen": bv, "limit_fen": bmax},
            f"{who}名下市场主体 {assets.business_count} 户，登记价值合计 {yuan(bv)} 元，"
            f"{'不超过' if b_ok else '超过'}限额 {yuan(bmax)} 元",
            member,
        )
    )
    return out


def _status(value: str) -> str:
    return label(SOURCE_STATUS_LABELS, value)


def completeness_reason(
    ctx: Context, rule: str, missing: tuple[MissingSource, ...], member: int | None = None
) -> Reason:
    params: tuple[Named, ...] = (P.required_sources,)
    if not missing:
        whose = "所有成员" if member is None else f"成员 {member} "
        return ctx.reason(
            f"{rule}.completeness",
            Outcome.ELIGIBLE,
            "data",
            params,
            {"missing_count": 0},
            f"{whose}的各项核对来源均已答复",
            member,
        )
    parts = [
        f"成员 {x.member} {label(SOURCE_LABELS, x.source)}（{_status(x.status)}）" for x in missing
    ]
    return ctx.reason(
        f"{rule}.completeness",
        Outcome.NEEDS_REVIEW,
        "data",
        params,
        {"missing_count": len(missing)},
        "以下来源尚未取得确定结果："
        + "、".join(parts)
        + "；缺失数据不能视为无收入、无财产，需人工复核",
        member,
    )


def registration_reasons(
    ctx: Context,
    rule: str,
    cancelled: tuple[CancelledRegistration, ...],
    member: int | None = None,
) -> list[Reason]:
    """A declared member whose own 户籍 is cancelled (a death, a move away) is still counted in
    the household's size and per-capita income, because the family declared them; an
    assessment built on that count must not pass unseen, so it goes to staff. Nothing is
    said when no declared member's registration is cancelled."""
    return [
        ctx.reason(
            f"{rule}.registration",
            Outcome.NEEDS_REVIEW,
            "data",
            (),
            {"member": c.member, "cancel_reason": c.reason.value},
            f"成员 {c.member} 户籍已注销（{CANCELLATION_LABELS[c.reason]}），"
            "家庭人口和人均收入仍按申报计算，需人工核实",
            c.member,
        )
        for c in cancelled
        if member is None or c.member == member
    ]


def own_income_reason(
    ctx: Context, rule: str, national: str, member: int, own: Fraction, below_note: str = ""
) -> Reason:
    """One member's own monthly income against the standard (``below_note`` is added to
    the sentence when it is below)."""
    s = ctx.standard
    own_below = ctx.below(own, s)
    return ctx.reason(
        f"{rule}.own_income",
        ok(own_below),
        national,
        (ctx.std,),
        {**fen_values("own_monthly_income", own), "standard_fen": s},
        f"成员 {member} 本人月收入 {fen_text(own)}，"
        f"{'低于' if own_below else '不低于'}低保标准 {yuan(s)} 元"
        + (below_note if own_below else ""),
        member,
    )


def _declared_text(f: FactFinding) -> str:
    if f.fact == "disability":
        return f"{f.declared} 级残疾"
    if f.fact == "employment":
        return "无劳动能力"
    if f.fact in EXPENSE_FACTS:
        return f"{FACT_LABELS[f.fact]} {yuan(int(f.declared or 0))} 元"
    return {"serious_illness": "患重病", "alive": "健在"}.get(f.fact, FACT_LABELS[f.fact])


def fact_reasons(
    ctx: Context, rule: str, facts: tuple[str, ...], member: int | None = None
) -> list[Reason]:
    """A rule resting on a declared fact whose department did not answer, where the region
    requires that fact verified (``fact_basis_<fact> = "verified"``), is not decided on the
    declaration alone: it goes to staff, naming the department and its answer. Nothing is
    said for facts the departments verified or the region accepts as declared."""
    out = []
    for f in ctx.facts.unverified(facts, member):
        whose = "家庭" if f.member is None else f"成员 {f.member} "
        out.append(
            ctx.reason(
                f"{rule}.evidence",
                Outcome.NEEDS_REVIEW,
                "data",
                (P.fact_basis[f.fact],),
                {"fact": f.fact, "source": f.source, "status": f.status, "member": f.member},
                f"{whose}申报{_declared_text(f)}，{label(SOURCE_LABELS, f.source)}"
                f"{_status(f.status)}；本地政策要求该项经部门核实，不能仅凭申报认定，需人工复核",
                f.member if member is None else member,
            )
        )
    return out


def listed_member_reasons(ctx: Context, rule: str, member: int | None = None) -> list[Reason]:
    """A listed member 民政 records as deceased, or listed as the spouse while 民政's latest
    婚姻登记 is a divorce, is still counted as the family declared; an assessment built on
    that count goes to staff."""
    divorced = [
        ctx.reason(
            f"{rule}.divorced",
            Outcome.NEEDS_REVIEW,
            "data",
            (),
            {"member": d.member, "occurred_on": d.occurred_on.isoformat()},
            f"成员 {d.member} 以配偶身份列为家庭成员，民政记录显示已于 "
            f"{d.occurred_on.isoformat()} 离婚；家庭人口和人均收入仍按申报计算，需人工核实",
            d.member,
        )
        for d in ctx.facts.divorces
        if member is None or d.member == member
    ]
    return divorced + [
        ctx.reason(
            f"{rule}.deceased",
            Outcome.NEEDS_REVIEW,
            "data",
            (),
            {"member": d.member, "occurred_on": d.occurred_on.isoformat()},
            f"成员 {d.member} 民政记录显示已于 {d.occurred_on.isoformat()} 死亡，仍列为家庭成员；"
            "家庭人口和人均收入仍按申报计算，需人工核实",
            d.member,
        )
        for d in ctx.facts.deaths
        if member is None or d.member == member
    ]


EXPENSES = tuple(EXPENSE_FACTS)
"""The facts every income test rests on: the 刚性支出 deducted."""
