"""因病致贫重病患者: a seriously ill member, the income line and the medical burden."""

from __future__ import annotations

from fractions import Fraction

from verifier.domain.household import DeductionKind, Purpose
from verifier.domain.money import at_least, fen_text, yuan
from verifier.policy.checks import (
    EXPENSES,
    asset_reasons,
    completeness_reason,
    fact_reasons,
    listed_member_reasons,
    registration_reasons,
)
from verifier.policy.context import Context, fen_values, income_line_reason, ok
from verifier.policy.findings import MemberResult, ProgramResult, worst
from verifier.policy.specs import P


def yinbing(ctx: Context) -> ProgramResult:
    agg, snap = ctx.agg, ctx.snap
    ill = [m for m in sorted(ctx.inp.members, key=lambda m: m.index) if m.serious_illness]
    reasons = [
        ctx.reason(
            "yinbing_zhipin.patient",
            ok(bool(ill)),
            "yinbing",
            (),
            {"patients": len(ill)},
            ("家庭成员中有重病患者：" + "、".join(f"成员 {m.index}" for m in ill))
            if ill
            else "家庭成员中无重病患者记录",
        )
    ]
    reasons.append(
        income_line_reason(
            ctx,
            "yinbing_zhipin.income",
            "yinbing",
            P.yinbing_income_multiplier,
            who="扣除刚性支出后家庭",
        )[0]
    )
    ratio = snap.yinbing_medical_expense_ratio
    gross = agg.income_total_exact
    need = gross * Fraction(ratio)
    medical = agg.deductions_fen.get(DeductionKind.ILLNESS, 0)
    met = at_least(medical, need, ctx.tie)
    reasons.append(
        ctx.reason(
            "yinbing_zhipin.medical_burden",
            ok(met),
            "yinbing",
            (P.yinbing_medical_expense_ratio,),
            {
                "medical_expenses_fen": medical,
                **fen_values("household_income", gross),
                "ratio": str(ratio),
                **fen_values("threshold", need),
            },
            f"窗口期内自付医疗费用 {yuan(medical)} 元，{'达到' if met else '未达到'}"
            f"家庭同期收入 {fen_text(gross)}的 {ratio} 倍（{fen_text(need)}）",
        )
    )
    reasons += asset_reasons(
        ctx, "yinbing_zhipin", "yinbing", agg.assets, agg.size, P.bianyuan_financial_asset_months
    )
    reasons.append(completeness_reason(ctx, "yinbing_zhipin", agg.missing))
    reasons += registration_reasons(ctx, "yinbing_zhipin", agg.cancelled_registrations)
    reasons += fact_reasons(ctx, "yinbing_zhipin", ("serious_illness", "alive", *EXPENSES))
    reasons += listed_member_reasons(ctx, "yinbing_zhipin")
    outcome = worst(r.outcome for r in reasons)
    members = tuple(MemberResult(m.index, "patient", outcome, None) for m in ill)
    return ProgramResult(Purpose.YINBING_ZHIPIN, outcome, tuple(reasons), members=members)
