"""The five programs' rules as code.

hedui gives indicative findings; people decide. Each rule yields a :class:`Reason` with
the rule id, its legal reference (the national rule, then the citations of the region's
entries used), the parameters among them that are examples no document states, the
numbers compared (fen as int) and a Chinese sentence. A program's outcome is the worst of
its checks (INELIGIBLE < NEEDS_REVIEW < ELIGIBLE), so missing data can lower an outcome to
NEEDS_REVIEW but never raise one to ELIGIBLE.

Arithmetic is exact: income per capita, lines derived from a standard (``S × 1.5``) and
gaps are rationals, compared exactly under the policy's ``fen_tie_rule`` (a fraction of a
fen goes to the family unless the policy says "exact"). Only an amount paid (a top-up, a
特困 standard, a 临时救助 band) is rounded, half-up to the fen, once. A reason shows each
compared figure in fen and, when it is not a whole fen, its exact value as ``p/q``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from hedui_sdk import AssetCategory
from verifier.domain.household import (
    PURPOSE_LABELS,
    DeductionKind,
    HukouNature,
    Purpose,
    SupporterStatus,
)
from verifier.domain.money import (
    at_least,
    at_most,
    below,
    dec_str,
    exact_str,
    fen_text,
    half_up,
    times,
    yuan,
)
from verifier.domain.outcomes import SOURCE_LABELS
from verifier.policy.aggregate import Aggregates, AssetTotals, MemberAggregate, MissingSource
from verifier.policy.discrepancies import ASSET_LABELS
from verifier.policy.inputs import AssessmentInput, Member
from verifier.policy.params import BAND_PARTS, LINSHI_BANDS
from verifier.policy.snapshot import Snapshot

JsonScalar = int | str | bool | None


class Outcome(StrEnum):
    ELIGIBLE = "ELIGIBLE"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    INELIGIBLE = "INELIGIBLE"

    @property
    def rank(self) -> int:
        """ELIGIBLE 2 > NEEDS_REVIEW 1 > INELIGIBLE 0."""
        return {"ELIGIBLE": 2, "NEEDS_REVIEW": 1, "INELIGIBLE": 0}[self.value]


def worst(outcomes: Iterable[Outcome | None]) -> Outcome:
    present = [o for o in outcomes if o is not None]
    return min(present, key=lambda o: o.rank) if present else Outcome.ELIGIBLE


def best(outcomes: Iterable[Outcome]) -> Outcome:
    present = list(outcomes)
    return max(present, key=lambda o: o.rank) if present else Outcome.INELIGIBLE


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


def _asset_label(name: str) -> str:
    """``deposit`` → ``银行存款``: a category a policy file names, as a reader says it."""
    return ASSET_LABELS[AssetCategory(name)] if name in set(AssetCategory) else name


BAND_LABELS: Mapping[str, str] = {
    "emergency": "急难型",
    "expense": "支出型",
    "illness": "支出型（重特大疾病）",
    "schooling": "支出型（子女就学）",
}
BASE_LABELS: Mapping[str, str] = {"urban": "城市低保月标准", "household": "本户适用的月低保标准"}


@dataclass(frozen=True)
class Reason:
    """One rule applied: ``outcome`` None marks a note that does not decide anything.

    ``examples`` names the parameters this reason used whose values are examples (no
    document states them), so a reader sees which conclusions rest on placeholders.
    """

    rule: str
    outcome: Outcome | None
    reference: str
    values: Mapping[str, JsonScalar]
    text: str
    member: int | None = None
    examples: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "outcome": self.outcome.value if self.outcome is not None else None,
            "reference": self.reference,
            "example_parameters": list(self.examples),
            "values": dict(self.values),
            "text": self.text,
            "member": self.member,
        }


@dataclass(frozen=True)
class MemberResult:
    """A person-level finding (特困, 单人户, 因病致贫 patients)."""

    index: int
    route: str
    outcome: Outcome
    amount_fen: int | None
    reasons: tuple[Reason, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "member": self.index,
            "route": self.route,
            "outcome": self.outcome.value,
            "amount_fen": self.amount_fen,
            "reasons": [r.to_json() for r in self.reasons],
        }


@dataclass(frozen=True)
class LinshiBand:
    """A 临时救助 band as the region's document states it: a range of a base standard."""

    name: str
    base: str
    """``urban`` or ``household``: which monthly 低保 standard the multipliers apply to."""
    base_param: str
    base_fen: int
    min_multiplier: Decimal
    max_multiplier: Decimal
    min_fen: int
    max_fen: int
    trigger: str
    """What in the household calls for this band (empty when nothing does)."""


@dataclass(frozen=True)
class ProgramResult:
    """One program's indicative finding.

    ``amount_fen``: 低保 monthly household top-up ``(S − y) × n`` (exact, rounded once);
    特困 monthly total of the basic-living standard for the members found; None where the
    rule gives none. ``taper_months``: the 渐退 range (min, max) a caseworker chooses
    within. ``range_fen``: 临时救助's applicable band (min, max) in fen, which is not a
    cap where ``case_by_case`` (一事一议); ``ranges`` every band the region states;
    ``fallback`` the sentence saying the provincial and national rule applies instead.
    """

    program: Purpose
    outcome: Outcome
    reasons: tuple[Reason, ...]
    amount_fen: int | None = None
    standard_fen: int | None = None
    taper_months: tuple[int, int] | None = None
    range_fen: tuple[int, int] | None = None
    ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    members: tuple[MemberResult, ...] = ()
    band: str | None = None
    case_by_case: bool = False
    fallback: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "program": self.program.value,
            "name": PURPOSE_LABELS[self.program],
            "outcome": self.outcome.value,
            "amount_fen": self.amount_fen,
            "standard_fen": self.standard_fen,
            "taper_months_range": (
                {"min": self.taper_months[0], "max": self.taper_months[1]}
                if self.taper_months
                else None
            ),
            "range_fen": (
                {"min": self.range_fen[0], "max": self.range_fen[1]} if self.range_fen else None
            ),
            "ranges_fen": {k: {"min": v[0], "max": v[1]} for k, v in sorted(self.ranges.items())},
            "reasons": [r.to_json() for r in self.reasons],
            "members": [m.to_json() for m in self.members],
        }
        if self.program is Purpose.LINSHI:
            out["band"] = self.band
            out["case_by_case"] = self.case_by_case
            out["fallback"] = self.fallback
        return out


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class Context:
    inp: AssessmentInput
    agg: Aggregates
    snap: Snapshot
    standard: int
    standard_param: str
    tie: str
    """The policy's ``fen_tie_rule``: ``family`` or ``exact``."""

    @property
    def day(self) -> date:
        return self.inp.request_date

    def ref(self, national: str, *params: str) -> str:
        local = self.snap.ref(*params) if params else ""
        # The same document is often cited by the national rule and a region's entry.
        parts = [p for x in (NATIONAL[national], local) for p in x.split("；") if p]
        return "；".join(dict.fromkeys(parts))

    def reason(
        self,
        rule: str,
        outcome: Outcome | None,
        national: str,
        params: tuple[str, ...],
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
            tuple(self.snap.examples(*params)),
        )

    def line(self, multiplier_param: str) -> tuple[Fraction, Decimal]:
        """``standard × multiplier``, exact: a line compared against, never paid."""
        m = self.snap.decimal(multiplier_param)
        return self.standard * Fraction(m), m

    def below(self, value: Fraction | int, limit: Fraction | int) -> bool:
        return below(value, limit, self.tie)

    def at_most(self, value: Fraction | int, limit: Fraction | int) -> bool:
        return at_most(value, limit, self.tie)


def _ok(cond: bool) -> Outcome:
    return Outcome.ELIGIBLE if cond else Outcome.INELIGIBLE


def _who(member: int | None) -> str:
    return "家庭" if member is None else f"成员 {member} "


def _fen_values(name: str, x: Fraction | int) -> dict[str, JsonScalar]:
    """``{name}_fen`` rounded for reading, plus ``{name}_exact`` when not a whole fen."""
    f = Fraction(x)
    out: dict[str, JsonScalar] = {f"{name}_fen": half_up(f)}
    if f.denominator != 1:
        out[f"{name}_exact"] = exact_str(f)
    return out


# --------------------------------------------------------------------------- shared checks


def asset_reasons(
    ctx: Context,
    rule: str,
    national: str,
    assets: AssetTotals,
    size: int,
    months_param: str,
    member: int | None = None,
) -> list[Reason]:
    """Every asset limit, for a household (``member`` None) or one person (size 1)."""
    snap, s = ctx.snap, ctx.standard
    who = _who(member)
    out: list[Reason] = []

    months = snap.integer(months_param)
    limit = s * months * size
    fin = assets.financial_fen
    cats = "、".join(map(_asset_label, snap.strings("financial_asset_categories")))
    fin_ok = ctx.at_most(fin, limit)
    out.append(
        ctx.reason(
            f"{rule}.financial_assets",
            _ok(fin_ok),
            national,
            (ctx.standard_param, months_param, "financial_asset_categories"),
            {
                "financial_assets_fen": fin,
                "limit_fen": limit,
                "standard_fen": s,
                "months": months,
                "household_size": size,
            },
            f"{who}金融资产合计 {yuan(fin)} 元（{cats}），"
            f"{'不超过' if fin_ok else '超过'}限额 {yuan(limit)} 元"
            f"（标准 {yuan(s)} 元 × {months} 个月 × {size} 人）",
            member,
        )
    )

    max_count = snap.integer("real_estate_max_count")
    n = assets.real_estate_count
    out.append(
        ctx.reason(
            f"{rule}.real_estate_count",
            _ok(n <= max_count),
            national,
            ("real_estate_max_count",),
            {"real_estate_count": n, "limit": max_count},
            f"{who}名下不动产 {n} 处，{'不超过' if n <= max_count else '超过'}上限 {max_count} 处",
            member,
        )
    )

    per_cap_limit = snap.decimal("real_estate_max_area_per_capita_m2")
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
            ("real_estate_max_area_per_capita_m2",),
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

    vmax = snap.integer("vehicle_max_count")
    v = assets.vehicles_counted
    exempt = "、".join(snap.strings("vehicle_exempt_kinds")) or "无"
    out.append(
        ctx.reason(
            f"{rule}.vehicles",
            _ok(v <= vmax),
            national,
            ("vehicle_max_count", "vehicle_exempt_kinds"),
            {"vehicles_counted": v, "vehicles_exempt": assets.vehicles_exempt, "limit": vmax},
            f"{who}名下非豁免机动车、船 {v} 辆"
            f"（豁免类型：{exempt}；已豁免 {assets.vehicles_exempt} 辆），"
            f"{'不超过' if v <= vmax else '超过'}上限 {vmax} 辆",
            member,
        )
    )

    bmax = snap.fen("business_max_value_fen")
    bv = assets.business_value_fen
    b_ok = ctx.at_most(bv, bmax)
    out.append(
        ctx.reason(
            f"{rule}.business",
            _ok(b_ok),
            national,
            ("business_max_value_fen",),
            {"business_count": assets.business_count, "business_value_fen": bv, "limit_fen": bmax},
            f"{who}名下市场主体 {assets.business_count} 户，登记价值合计 {yuan(bv)} 元，"
            f"{'不超过' if b_ok else '超过'}限额 {yuan(bmax)} 元",
            member,
        )
    )
    return out


def completeness_reason(
    ctx: Context, rule: str, missing: tuple[MissingSource, ...], member: int | None = None
) -> Reason:
    params = ("required_sources",)
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
        f"成员 {x.member} {SOURCE_LABELS.get(x.source, x.source)}（{x.status}）" for x in missing
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


def _income_sentence(who: str, y: Fraction | int, verb: str, label: str, t: Fraction | int) -> str:
    gap = " " if label[:1] in "0123456789" and label[:1] else ""
    return f"{who}月人均收入 {fen_text(y)}，{verb}{gap}{label} {fen_text(t)}"


# --------------------------------------------------------------------------- 低保


def dibao(ctx: Context) -> ProgramResult:
    agg, snap, s = ctx.agg, ctx.snap, ctx.standard
    y, n = agg.monthly_per_capita_exact, agg.size
    reasons: list[Reason] = []
    taper: tuple[int, int] | None = None
    receiving = Purpose.DIBAO in ctx.inp.current_programs
    values: dict[str, JsonScalar] = {
        **_fen_values("monthly_per_capita_income", y),
        "standard_fen": s,
    }
    below_standard = ctx.below(y, s)
    if below_standard:
        reasons.append(
            ctx.reason(
                "dibao.income",
                Outcome.ELIGIBLE,
                "dibao",
                (ctx.standard_param,),
                values,
                _income_sentence("家庭", y, "低于", "低保标准", s),
            )
        )
    else:
        ceiling, mult = ctx.line("taper_ceiling_multiplier")
        values = {
            **values,
            **_fen_values("taper_ceiling", ceiling),
            "taper_multiplier": str(mult),
            "currently_receiving": receiving,
        }
        params = (
            ctx.standard_param,
            "taper_ceiling_multiplier",
            "taper_min_months",
            "taper_max_months",
        )
        under_ceiling = ctx.below(y, ceiling)
        ceiling_text = f"{mult} 倍标准 {fen_text(ceiling)}"
        if under_ceiling and receiving:
            taper = (snap.integer("taper_min_months"), snap.integer("taper_max_months"))
            values["taper_min_months"], values["taper_max_months"] = taper
            reasons.append(
                ctx.reason(
                    "dibao.taper",
                    Outcome.ELIGIBLE,
                    "dibao",
                    params,
                    values,
                    _income_sentence("家庭", y, "不低于", "低保标准", s)
                    + f"，但低于 {ceiling_text}；现为低保家庭，可渐退 {taper[0]}–{taper[1]} 个月"
                    + "（具体期限由审核确认机关在此范围内决定）",
                )
            )
        elif under_ceiling:
            reasons.append(
                ctx.reason(
                    "dibao.income",
                    Outcome.INELIGIBLE,
                    "dibao",
                    params,
                    values,
                    _income_sentence("家庭", y, "不低于", "低保标准", s)
                    + f"（低于 {ceiling_text}，但渐退仅适用于现低保家庭）",
                )
            )
        else:
            reasons.append(
                ctx.reason(
                    "dibao.income",
                    Outcome.INELIGIBLE,
                    "dibao",
                    params,
                    values,
                    _income_sentence("家庭", y, "不低于", "低保标准", s)
                    + f"，且不低于 {ceiling_text}",
                )
            )
    reasons += asset_reasons(ctx, "dibao", "dibao", agg.assets, n, "dibao_financial_asset_months")
    reasons.append(completeness_reason(ctx, "dibao", agg.missing))
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
                (ctx.standard_param,),
                {
                    "standard_fen": s,
                    **_fen_values("monthly_per_capita_income", y),
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
    grades = set(snap.ints("single_person_disability_grades"))
    ill = snap.flag("single_person_serious_illness")
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
    min_age = snap.integer("single_person_min_age")
    age = m.age_on(ctx.day)
    why = f"重度残疾（{m.disability_grade} 级）" if m.disability_grade else "重病"
    params = (
        "single_person_disability_grades",
        "single_person_serious_illness",
        "single_person_min_age",
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
                _ok(age >= min_age),
                "dibao",
                params,
                {"age": age, "min_age": min_age},
                f"成员 {m.index} {why}，{age} 周岁，"
                f"{'已满' if age >= min_age else '未满'} {min_age} 周岁",
                m.index,
            )
        )
    ceiling, mult = ctx.line("single_person_household_multiplier")
    y = agg.monthly_per_capita_exact
    under = ctx.below(y, ceiling)
    reasons.append(
        ctx.reason(
            "dibao.single_person.household_income",
            _ok(under),
            "dibao",
            (ctx.standard_param, "single_person_household_multiplier"),
            {
                **_fen_values("monthly_per_capita_income", y),
                **_fen_values("ceiling", ceiling),
                "multiplier": str(mult),
            },
            _income_sentence(
                "家庭", y, "低于" if under else "不低于", f"{mult} 倍低保标准", ceiling
            ),
            m.index,
        )
    )
    reasons += asset_reasons(
        ctx,
        "dibao.single_person",
        "dibao",
        agg.assets,
        agg.size,
        "bianyuan_financial_asset_months",
        None,
    )
    own = ma.monthly_net_income_exact
    own_below = ctx.below(own, s)
    reasons.append(
        ctx.reason(
            "dibao.single_person.own_income",
            _ok(own_below),
            "dibao",
            (ctx.standard_param,),
            {**_fen_values("own_monthly_income", own), "standard_fen": s},
            f"成员 {m.index} 本人月收入 {fen_text(own)}，"
            f"{'低于' if own_below else '不低于'}低保标准 {yuan(s)} 元",
            m.index,
        )
    )
    reasons.append(completeness_reason(ctx, "dibao.single_person", agg.missing, m.index))
    outcome = worst(r.outcome for r in reasons)
    amount = max(0, half_up(s - own)) if outcome is not Outcome.INELIGIBLE else None
    return MemberResult(m.index, "single_person", outcome, amount, tuple(reasons))


# --------------------------------------------------------------------------- 特困


def tekun(ctx: Context) -> ProgramResult:
    urban = ctx.inp.hukou is HukouNature.URBAN
    mparam = "tekun_multiplier_urban" if urban else "tekun_multiplier_rural"
    mult = ctx.snap.decimal(mparam)
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
        (ctx.standard_param, mparam),
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
    snap, s = ctx.snap, ctx.standard
    ma: MemberAggregate = ctx.agg.member(m.index)
    reasons: list[Reason] = []
    elderly_age = snap.integer("tekun_elderly_age")
    minor_age = snap.integer("tekun_minor_age")
    grades = set(snap.ints("tekun_disability_grades"))
    age = m.age_on(ctx.day)
    params = ("tekun_elderly_age", "tekun_minor_age", "tekun_disability_grades")
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
    own_below = ctx.below(own, s)
    reasons.append(
        ctx.reason(
            "tekun.own_income",
            _ok(own_below),
            "tekun",
            (ctx.standard_param,),
            {**_fen_values("own_monthly_income", own), "standard_fen": s},
            f"成员 {m.index} 本人月收入 {fen_text(own)}，"
            f"{'低于' if own_below else '不低于'}低保标准 {yuan(s)} 元"
            + ("（无生活来源）" if own_below else ""),
            m.index,
        )
    )
    reasons += asset_reasons(
        ctx, "tekun", "tekun", ma.assets, 1, "dibao_financial_asset_months", m.index
    )
    reasons.append(completeness_reason(ctx, "tekun", ma.missing, m.index))
    outcome = worst(r.outcome for r in reasons)
    return MemberResult(
        m.index, "tekun", outcome, t if outcome is not Outcome.INELIGIBLE else None, tuple(reasons)
    )


# --------------------------------------------------------------------------- 低保边缘


def bianyuan(ctx: Context) -> ProgramResult:
    agg = ctx.agg
    y = agg.monthly_per_capita_exact
    line, mult = ctx.line("bianyuan_multiplier")
    under = ctx.below(y, line)
    reasons = [
        ctx.reason(
            "dibao_bianyuan.income",
            _ok(under),
            "bianyuan",
            (ctx.standard_param, "bianyuan_multiplier"),
            {
                **_fen_values("monthly_per_capita_income", y),
                **_fen_values("line", line),
                "multiplier": str(mult),
                "standard_fen": ctx.standard,
            },
            _income_sentence(
                "家庭",
                y,
                "低于" if under else "不低于",
                f"低保边缘标准（{mult} 倍低保标准）",
                line,
            ),
        )
    ]
    reasons += asset_reasons(
        ctx, "dibao_bianyuan", "bianyuan", agg.assets, agg.size, "bianyuan_financial_asset_months"
    )
    reasons.append(completeness_reason(ctx, "dibao_bianyuan", agg.missing))
    return ProgramResult(
        Purpose.DIBAO_BIANYUAN,
        worst(r.outcome for r in reasons),
        tuple(reasons),
        standard_fen=half_up(line),
    )


# --------------------------------------------------------------------------- 临时救助


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


def _bands(ctx: Context) -> dict[str, LinshiBand]:
    snap, triggers = ctx.snap, _triggers(ctx)
    out: dict[str, LinshiBand] = {}
    for name in LINSHI_BANDS:
        lo_p, hi_p, base_p = BAND_PARTS[name]
        if not all(snap.has(p) for p in (lo_p, hi_p, base_p)):
            continue
        base = snap.word(base_p)
        base_param = "dibao_standard_urban" if base == "urban" else ctx.standard_param
        base_fen = snap.fen(base_param)
        lo, hi = snap.decimal(lo_p), snap.decimal(hi_p)
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
    y = agg.monthly_per_capita_exact
    line, mult = ctx.line("linshi_expense_income_multiplier")
    under = ctx.below(y, line)
    reasons.append(
        ctx.reason(
            "linshi.income",
            _ok(under),
            "linshi",
            (ctx.standard_param, "linshi_expense_income_multiplier"),
            {
                **_fen_values("monthly_per_capita_income", y),
                **_fen_values("line", line),
                "multiplier": str(mult),
            },
            _income_sentence(
                "扣除刚性支出后家庭",
                y,
                "低于" if under else "不低于",
                f"{mult} 倍低保标准",
                line,
            ),
        )
    )
    reasons += asset_reasons(
        ctx, "linshi", "linshi", agg.assets, agg.size, "bianyuan_financial_asset_months"
    )
    reasons.append(completeness_reason(ctx, "linshi", agg.missing))

    case_by_case = False
    fallback: str | None = None
    if bands:
        params = tuple(p for b in bands for p in BAND_PARTS[b]) + tuple(
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
        if snap.has("linshi_case_by_case") and snap.flag("linshi_case_by_case"):
            case_by_case = True
            reasons.append(
                ctx.reason(
                    "linshi.case_by_case",
                    None,
                    "linshi",
                    ("linshi_case_by_case",),
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


# --------------------------------------------------------------------------- 因病致贫


def yinbing(ctx: Context) -> ProgramResult:
    agg, snap = ctx.agg, ctx.snap
    ill = [m for m in sorted(ctx.inp.members, key=lambda m: m.index) if m.serious_illness]
    reasons = [
        ctx.reason(
            "yinbing_zhipin.patient",
            _ok(bool(ill)),
            "yinbing",
            (),
            {"patients": len(ill)},
            ("家庭成员中有重病患者：" + "、".join(f"成员 {m.index}" for m in ill))
            if ill
            else "家庭成员中无重病患者记录",
        )
    ]
    y = agg.monthly_per_capita_exact
    line, mult = ctx.line("yinbing_income_multiplier")
    under = ctx.below(y, line)
    reasons.append(
        ctx.reason(
            "yinbing_zhipin.income",
            _ok(under),
            "yinbing",
            (ctx.standard_param, "yinbing_income_multiplier"),
            {
                **_fen_values("monthly_per_capita_income", y),
                **_fen_values("line", line),
                "multiplier": str(mult),
            },
            _income_sentence(
                "扣除刚性支出后家庭",
                y,
                "低于" if under else "不低于",
                f"{mult} 倍低保标准",
                line,
            ),
        )
    )
    ratio = snap.decimal("yinbing_medical_expense_ratio")
    gross = agg.income_total_exact
    need = gross * Fraction(ratio)
    medical = agg.deductions_fen.get(DeductionKind.ILLNESS, 0)
    met = at_least(medical, need, ctx.tie)
    reasons.append(
        ctx.reason(
            "yinbing_zhipin.medical_burden",
            _ok(met),
            "yinbing",
            ("yinbing_medical_expense_ratio",),
            {
                "medical_expenses_fen": medical,
                **_fen_values("household_income", gross),
                "ratio": str(ratio),
                **_fen_values("threshold", need),
            },
            f"窗口期内自付医疗费用 {yuan(medical)} 元，{'达到' if met else '未达到'}"
            f"家庭同期收入 {fen_text(gross)}的 {ratio} 倍（{fen_text(need)}）",
        )
    )
    reasons += asset_reasons(
        ctx, "yinbing_zhipin", "yinbing", agg.assets, agg.size, "bianyuan_financial_asset_months"
    )
    reasons.append(completeness_reason(ctx, "yinbing_zhipin", agg.missing))
    outcome = worst(r.outcome for r in reasons)
    members = tuple(MemberResult(m.index, "patient", outcome, None) for m in ill)
    return ProgramResult(Purpose.YINBING_ZHIPIN, outcome, tuple(reasons), members=members)


def evaluate(inp: AssessmentInput, agg: Aggregates, snap: Snapshot) -> dict[Purpose, ProgramResult]:
    urban = inp.hukou is HukouNature.URBAN
    sparam = "dibao_standard_urban" if urban else "dibao_standard_rural"
    ctx = Context(inp, agg, snap, snap.fen(sparam), sparam, snap.word("fen_tie_rule"))
    return {
        Purpose.DIBAO: dibao(ctx),
        Purpose.TEKUN: tekun(ctx),
        Purpose.LINSHI: linshi(ctx),
        Purpose.DIBAO_BIANYUAN: bianyuan(ctx),
        Purpose.YINBING_ZHIPIN: yinbing(ctx),
    }
