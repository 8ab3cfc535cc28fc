"""临时救助: the region's bands, which one applies, and the fallback to the national rule."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from verifier.domain.household import DeductionKind, Purpose
from verifier.domain.labels import BAND_LABELS, BASE_LABELS
from verifier.domain.money import times, yuan
from verifier.policy.checks import (
    EXPENSES,
    asset_reasons,
    completeness_reason,
    fact_reasons,
    listed_member_reasons,
    registration_reasons,
)
from verifier.policy.context import Context, income_line_reason
from verifier.policy.findings import JsonScalar, Outcome, ProgramResult, worst
from verifier.policy.specs import LINSHI_BANDS, P
from verifier.policy.typed import Named, OptionalParam, Param


@dataclass(frozen=True)
class LinshiBand:
    """A 临时救助 band as the region's document states it: a range of a base standard."""

    name: str
    base: str
    """``urban`` or ``household``: which monthly 低保 standard the multipliers apply to."""
    base_param: Param[int]
    base_fen: int
    min_multiplier: Decimal
    max_multiplier: Decimal
    min_fen: int
    max_fen: int
    trigger: str
    """What in the household calls for this band (empty when nothing does)."""


def _triggers(ctx: Context) -> dict[str, str]:
    """What in this household calls for each band, as the seeds word the triggers.

    The 重特大疾病 band answers a member with a serious illness and the 就学 band a member
    in school (children's education costs): a circumstance of a member, not any medical
    or school receipt among the deductions. 支出型 answers rigid expenses with evidence;
    急难型 answers an event the check data cannot see, so data never triggers it.
    """
    members = sorted(ctx.inp.members, key=lambda m: m.index)
    ill = [m.index for m in members if m.serious_illness]
    school = [m.index for m in members if m.in_school]
    out: dict[str, str] = {}
    if ill:
        out["illness"] = "、".join(f"成员 {i}" for i in ill) + " 患重特大疾病"
    if school:
        out["schooling"] = "、".join(f"成员 {i}" for i in school) + " 在校就学"
    if ctx.agg.rigid_expenses_fen > 0:
        out["expense"] = f"有刚性支出凭证 {yuan(ctx.agg.rigid_expenses_fen)} 元"
    return out


def _parts(band: str) -> tuple[OptionalParam[Decimal], OptionalParam[Decimal], OptionalParam[str]]:
    """A band's range and the standard it multiplies: a policy states all three, or none."""
    return P.linshi_min_multiplier[band], P.linshi_max_multiplier[band], P.linshi_base[band]


def _bands(ctx: Context) -> dict[str, LinshiBand]:
    snap, triggers = ctx.snap, _triggers(ctx)
    out: dict[str, LinshiBand] = {}
    for name in LINSHI_BANDS:
        lo_p, hi_p, base_p = _parts(name)
        # Checked before any is read, so a band not in force cites none of its parts.
        if not all(snap.has(p.name) for p in (lo_p, hi_p, base_p)):
            continue
        base = snap.require(base_p)
        base_param = P.dibao_standard_urban if base == "urban" else ctx.std
        base_fen = snap.get(base_param)
        lo, hi = snap.require(lo_p), snap.require(hi_p)
        out[name] = LinshiBand(
            name,
            base,
            base_param,
            base_fen,
            lo,
            hi,
            times(base_fen, lo),
            times(base_fen, hi),
            triggers.get(name, ""),
        )
    return out


FALLBACK_NONE = (
    "本地政策文件未规定临时救助金额档次；按省级和国家规定"
    "（《国务院关于全面建立临时救助制度的通知》国发〔2014〕47号）由审核确认机关按个案确定救助金额"
)
FALLBACK_UNMATCHED = (
    "本地政策文件规定的临时救助档次均不适用于本户情形；按省级和国家规定"
    "（《国务院关于全面建立临时救助制度的通知》国发〔2014〕47号）由审核确认机关按个案确定救助金额"
)


def linshi(ctx: Context) -> ProgramResult:
    agg, s, snap = ctx.agg, ctx.standard, ctx.snap
    bands = _bands(ctx)
    triggered = [b for b in bands.values() if b.trigger]
    # A band for the household's own circumstance (重特大疾病, 就学) replaces the general
    # 支出型 one; with several, the larger maximum is offered; people decide.
    specific = [b for b in triggered if b.name in ("illness", "schooling")] or triggered
    applicable: LinshiBand | None = None
    if specific:
        applicable = max(specific, key=lambda b: (b.max_fen, b.min_fen, b.name))
    elif "expense" in bands:
        # The general 支出型 band is the range for this program even when no expense is
        # evidenced yet (the rigid-expense check below then refuses it).
        applicable = bands["expense"]
    rigid = agg.rigid_expenses_fen
    illness = agg.deductions_fen.get(DeductionKind.ILLNESS, 0)
    schooling = agg.deductions_fen.get(DeductionKind.SCHOOLING, 0)
    circumstance = [b for b in triggered if b.name in ("illness", "schooling")]
    if rigid > 0:
        rigid_outcome = Outcome.ELIGIBLE
        rigid_text = f"窗口期内有凭证的刚性支出（医疗、康复护理、就学）合计 {yuan(rigid)} 元"
    elif circumstance:
        rigid_outcome = Outcome.NEEDS_REVIEW
        rigid_text = (
            "；".join(b.trigger for b in circumstance)
            + "，但窗口期内无刚性支出凭证，支出情况需人工核实"
        )
    else:
        rigid_outcome = Outcome.INELIGIBLE
        rigid_text = "窗口期内无刚性支出凭证（医疗、康复护理、就学），无支出型救助依据"
    reasons = [
        ctx.reason(
            "linshi.rigid_expense",
            rigid_outcome,
            "linshi",
            (),
            {"rigid_expenses_fen": rigid, "illness_fen": illness, "schooling_fen": schooling},
            rigid_text,
        )
    ]
    reasons.append(
        income_line_reason(
            ctx,
            "linshi.income",
            "linshi",
            P.linshi_expense_income_multiplier,
            who="扣除刚性支出后家庭",
        )[0]
    )
    reasons += asset_reasons(
        ctx, "linshi", "linshi", agg.assets, agg.size, P.bianyuan_financial_asset_months
    )
    reasons.append(completeness_reason(ctx, "linshi", agg.missing))
    reasons += registration_reasons(ctx, "linshi", agg.cancelled_registrations)
    reasons += fact_reasons(ctx, "linshi", ("serious_illness", "in_school", "alive", *EXPENSES))
    reasons += listed_member_reasons(ctx, "linshi")

    case_by_case = False
    fallback: str | None = None
    if bands:
        params: tuple[Named, ...] = tuple(p for b in bands for p in _parts(b)) + tuple(
            dict.fromkeys(b.base_param for b in bands.values())
        )
        sentences = [
            f"{BAND_LABELS[b.name]}：{BASE_LABELS[b.base]} {yuan(b.base_fen)} 元 × "
            f"{b.min_multiplier}–{b.max_multiplier} = {yuan(b.min_fen)}–{yuan(b.max_fen)} 元"
            + (f"（{b.trigger}）" if b.trigger else "")
            for b in bands.values()
        ]
        values: dict[str, JsonScalar] = {}
        for b in bands.values():
            values |= {
                f"{b.name}_base": b.base,
                f"{b.name}_base_fen": b.base_fen,
                f"{b.name}_min_fen": b.min_fen,
                f"{b.name}_max_fen": b.max_fen,
                f"{b.name}_triggered": bool(b.trigger),
            }
        values["applicable"] = applicable.name if applicable else None
        tail = f"（适用：{BAND_LABELS[applicable.name]}）" if applicable else "（本户情形均不适用）"
        if "emergency" in bands:
            tail += "；急难型救助按个案事由认定，核对数据不作判断"
        reasons.append(
            ctx.reason("linshi.ranges", None, "linshi", params, values, "；".join(sentences) + tail)
        )
    if applicable is not None:
        if snap.linshi_case_by_case:
            case_by_case = True
            reasons.append(
                ctx.reason(
                    "linshi.case_by_case",
                    None,
                    "linshi",
                    (P.linshi_case_by_case,),
                    {"case_by_case": True},
                    f"{BAND_LABELS[applicable.name]}档次 {yuan(applicable.min_fen)}–"
                    f"{yuan(applicable.max_fen)} 元为一般救助额度，不是硬性上限："
                    "特殊困难的，可按“一事一议”由审核确认机关提高救助额度",
                )
            )
    else:
        fallback = FALLBACK_UNMATCHED if bands else FALLBACK_NONE
        reasons.append(
            ctx.reason("linshi.fallback", None, "linshi", (), {"fallback": True}, fallback)
        )
    return ProgramResult(
        Purpose.LINSHI,
        worst(r.outcome for r in reasons),
        tuple(reasons),
        standard_fen=s,
        range_fen=(applicable.min_fen, applicable.max_fen) if applicable else None,
        ranges={b.name: (b.min_fen, b.max_fen) for b in bands.values()},
        band=applicable.name if applicable else None,
        case_by_case=case_by_case,
        fallback=fallback,
    )
