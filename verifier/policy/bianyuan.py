"""低保边缘家庭: the income line above the 低保 standard and the asset limits."""

from __future__ import annotations

from verifier.domain.household import Purpose
from verifier.domain.money import half_up
from verifier.policy.checks import (
    EXPENSES,
    asset_reasons,
    completeness_reason,
    fact_reasons,
    listed_member_reasons,
    registration_reasons,
)
from verifier.policy.context import Context, income_line_reason
from verifier.policy.findings import ProgramResult, worst
from verifier.policy.specs import P


def bianyuan(ctx: Context) -> ProgramResult:
    agg = ctx.agg
    income, line = income_line_reason(
        ctx,
        "dibao_bianyuan.income",
        "bianyuan",
        P.bianyuan_multiplier,
        label="低保边缘标准（{} 倍低保标准）",
        extra={"standard_fen": ctx.standard},
    )
    reasons = [income]
    reasons += asset_reasons(
        ctx, "dibao_bianyuan", "bianyuan", agg.assets, agg.size, P.bianyuan_financial_asset_months
    )
    reasons.append(completeness_reason(ctx, "dibao_bianyuan", agg.missing))
    reasons += registration_reasons(ctx, "dibao_bianyuan", agg.cancelled_registrations)
    reasons += fact_reasons(ctx, "dibao_bianyuan", ("alive", *EXPENSES))
    reasons += listed_member_reasons(ctx, "dibao_bianyuan")
    return ProgramResult(
        Purpose.DIBAO_BIANYUAN,
        worst(r.outcome for r in reasons),
        tuple(reasons),
        standard_fen=half_up(line),
    )
