"""What every rule reads: the household, its aggregates, the policy snapshot and the
household's 低保 standard; and the sentences and figures the rules share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from verifier.domain.household import HukouNature
from verifier.domain.money import at_most, below, exact_str, fen_text, half_up
from verifier.policy.aggregate import Aggregates
from verifier.policy.facts import Facts
from verifier.policy.findings import JsonScalar, Outcome, Reason
from verifier.policy.inputs import AssessmentInput
from verifier.policy.snapshot import Snapshot
from verifier.policy.specs import P
from verifier.policy.typed import Named, Param

NATIONAL: Mapping[str, str] = {
    "dibao": "《社会救助暂行办法》第二章；《最低生活保障审核确认办法》（民发〔2021〕57号）",
    "tekun": "《社会救助暂行办法》第三章；《特困人员认定办法》（民发〔2021〕43号）",
    "linshi": (
        "《社会救助暂行办法》第九章；《国务院关于全面建立临时救助制度的通知》（国发〔2014〕47号）"
    ),
    "bianyuan": "《社会救助暂行办法》；民政部低保边缘家庭认定相关规定",
    "yinbing": "《社会救助暂行办法》；民政部因病致贫重病患者认定相关规定",
    "data": "《社会救助暂行办法》（家庭经济状况调查核对）",
}


@dataclass(frozen=True)
class Context:
    inp: AssessmentInput
    agg: Aggregates
    snap: Snapshot
    std: Param[int]
    """The household's 低保 standard: the urban or the rural one, by its hukou."""
    standard: int
    tie: str
    """The policy's ``fen_tie_rule``: ``family`` or ``exact``."""
    facts: Facts = field(default_factory=Facts)
    """How each member's circumstances and the 刚性支出 were known (``inp`` already holds
    the values the departments verified)."""

    @classmethod
    def of(
        cls, inp: AssessmentInput, agg: Aggregates, snap: Snapshot, facts: Facts | None = None
    ) -> Context:
        urban = inp.hukou is HukouNature.URBAN
        std = P.dibao_standard_urban if urban else P.dibao_standard_rural
        return cls(inp, agg, snap, std, snap.get(std), snap.fen_tie_rule, facts or Facts())

    @property
    def day(self) -> date:
        return self.inp.request_date

    def ref(self, national: str, *params: Named) -> str:
        local = self.snap.ref(*(p.name for p in params)) if params else ""
        # The same document is often cited by the national rule and a region's entry.
        parts = [p for x in (NATIONAL[national], local) for p in x.split("；") if p]
        return "；".join(dict.fromkeys(parts))

    def reason(
        self,
        rule: str,
        outcome: Outcome | None,
        national: str,
        params: tuple[Named, ...],
        values: Mapping[str, JsonScalar],
        text: str,
        member: int | None = None,
    ) -> Reason:
        return Reason(
            rule,
            outcome,
            self.ref(national, *params),
            values,
            text,
            member,
            tuple(self.snap.examples(*(p.name for p in params))),
        )

    def line(self, multiplier: Param[Decimal]) -> tuple[Fraction, Decimal]:
        """``standard × multiplier``, exact: a line compared against, never paid."""
        m = self.snap.get(multiplier)
        return self.standard * Fraction(m), m

    def below(self, value: Fraction | int, limit: Fraction | int) -> bool:
        return below(value, limit, self.tie)

    def at_most(self, value: Fraction | int, limit: Fraction | int) -> bool:
        return at_most(value, limit, self.tie)


def ok(cond: bool) -> Outcome:
    return Outcome.ELIGIBLE if cond else Outcome.INELIGIBLE


def who_of(member: int | None) -> str:
    return "家庭" if member is None else f"成员 {member} "


def fen_values(name: str, x: Fraction | int) -> dict[str, JsonScalar]:
    """``{name}_fen`` rounded for reading, plus ``{name}_exact`` when not a whole fen."""
    f = Fraction(x)
    out: dict[str, JsonScalar] = {f"{name}_fen": half_up(f)}
    if f.denominator != 1:
        out[f"{name}_exact"] = exact_str(f)
    return out


def income_sentence(who: str, y: Fraction | int, verb: str, label: str, t: Fraction | int) -> str:
    gap = " " if label[:1] in "0123456789" and label[:1] else ""
    return f"{who}月人均收入 {fen_text(y)}，{verb}{gap}{label} {fen_text(t)}"


def income_line_reason(
    ctx: Context,
    rule: str,
    national: str,
    multiplier: Param[Decimal],
    *,
    who: str = "家庭",
    label: str = "{} 倍低保标准",
    line_key: str = "line",
    extra: Mapping[str, JsonScalar] | None = None,
    member: int | None = None,
) -> tuple[Reason, Fraction]:
    """Monthly income per capita against ``standard × multiplier``; the reason and the line.

    ``label`` names the line, ``{}`` standing for the multiplier.
    """
    y = ctx.agg.monthly_per_capita_exact
    line, mult = ctx.line(multiplier)
    under = ctx.below(y, line)
    reason = ctx.reason(
        rule,
        ok(under),
        national,
        (ctx.std, multiplier),
        {
            **fen_values("monthly_per_capita_income", y),
            **fen_values(line_key, line),
            "multiplier": str(mult),
            **(extra or {}),
        },
        income_sentence(who, y, "低于" if under else "不低于", label.format(mult), line),
        member,
    )
    return reason, line
