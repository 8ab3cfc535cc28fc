"""The five programs' rules as code.

hedui gives indicative findings; people decide. Each rule yields a :class:`Reason` with
the rule id, its legal reference (the national rule, then the region's entries used), the
numbers compared (fen as int) and a Chinese sentence. A program's outcome is the worst of
its checks (INELIGIBLE < NEEDS_REVIEW < ELIGIBLE), so missing data can lower an outcome to
NEEDS_REVIEW but never raise one to ELIGIBLE.

Thresholds derived from a standard (``S × 1.5``) are rounded half-up to the fen once,
and the rule compares integers: the numbers in a reason are exactly the numbers compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from verifier.policy.aggregate import Aggregates, AssetTotals, MemberAggregate, MissingSource
from verifier.policy.inputs import (
    AssessmentInput,
    DeductionKind,
    Hukou,
    Member,
    Program,
    Supporter,
)
from verifier.policy.money import dec_str, times, yuan
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


PROGRAM_NAMES: Mapping[Program, str] = {
    Program.DIBAO: "最低生活保障",
    Program.TEKUN: "特困人员救助供养",
    Program.LINSHI: "临时救助",
    Program.DIBAO_BIANYUAN: "低保边缘家庭",
    Program.YINBING_ZHIPIN: "因病致贫重病患者",
}

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

SOURCE_LABELS: Mapping[str, str] = {
    "household_registration": "户籍",
    "tax": "纳税",
    "social_insurance": "社会保险",
    "real_estate": "不动产",
    "business_registration": "市场主体登记",
    "provident_fund": "住房公积金",
    "vehicle": "车船",
    "bank": "银行存款",
    "securities": "证券",
    "commercial_insurance": "商业保险",
    "internet_finance": "互联网金融资产",
}


@dataclass(frozen=True)
class Reason:
    """One rule applied: ``outcome`` None marks a note that does not decide anything."""

    rule: str
    outcome: Outcome | None
    reference: str
    values: Mapping[str, JsonScalar]
    text: str
    member: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "outcome": self.outcome.value if self.outcome is not None else None,
            "reference": self.reference,
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
class ProgramResult:
    """One program's indicative finding.

    ``amount_fen``: 低保 monthly household top-up ``(S − y) × n``; 特困 monthly total of
    the basic-living standard for the members found; None where the rule gives none.
    ``range_fen``: 临时救助's applicable (min, max) in fen; ``ranges`` every type's range.
    """

    program: Program
    outcome: Outcome
    reasons: tuple[Reason, ...]
    amount_fen: int | None = None
    standard_fen: int | None = None
    taper_months: int | None = None
    range_fen: tuple[int, int] | None = None
    ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    members: tuple[MemberResult, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "program": self.program.value,
            "name": PROGRAM_NAMES[self.program],
            "outcome": self.outcome.value,
            "amount_fen": self.amount_fen,
            "standard_fen": self.standard_fen,
            "taper_months": self.taper_months,
            "range_fen": (
                {"min": self.range_fen[0], "max": self.range_fen[1]} if self.range_fen else None
            ),
            "ranges_fen": {k: {"min": v[0], "max": v[1]} for k, v in sorted(self.ranges.items())},
            "reasons": [r.to_json() for r in self.reasons],
            "members": [m.to_json() for m in self.members],
        }


# --------------------------------------------------------------------------- context


@dataclass(frozen=True)
class Context:
    inp: AssessmentInput
    agg: Aggregates
    snap: Snapshot
    standard: int
    standard_param: str

    @property
    def day(self) -> date:
        return self.inp.request_date

    def ref(self, national: str, *params: str) -> str:
        local = self.snap.ref(*params) if params else ""
        # The same document is often cited by the national rule and a region's entry.
        parts = [p for x in (NATIONAL[national], local) for p in x.split("；") if p]
        return "；".join(dict.fromkeys(parts))

    def threshold(self, multiplier_param: str) -> tuple[int, Decimal]:
        m = self.snap.decimal(multiplier_param)
        return times(self.standard, m), m


def _ok(cond: bool) -> Outcome:
    return Outcome.ELIGIBLE if cond else Outcome.INELIGIBLE


def _who(member: int | None) -> str:
    return "家庭" if member is None else f"成员 {member} "


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
    cats = "、".join(snap.strings("financial_asset_categories"))
    out.append(
        Reason(
            f"{rule}.financial_assets",
            _ok(fin <= limit),
            ctx.ref(national, ctx.standard_param, months_param, "financial_asset_categories"),
            {
                "financial_assets_fen": fin,
                "limit_fen": limit,
                "standard_fen": s,
                "months": months,
                "household_size": size,
            },
            f"{who}金融资产合计 {yuan(fin)} 元（{cats}），"
            f"{'不超过' if fin <= limit else '超过'}限额 {yuan(limit)} 元"
            f"（标准 {yuan(s)} 元 × {months} 个月 × {size} 人）",
            member,
        )
    )

    max_count = snap.integer("real_estate_max_count")
    n = assets.real_estate_count
    out.append(
        Reason(
            f"{rule}.real_estate_count",
            _ok(n <= max_count),
            ctx.ref(national, "real_estate_max_count"),
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
        Reason(
            f"{rule}.real_estate_area",
            area_outcome,
            ctx.ref(national, "real_estate_max_area_per_capita_m2"),
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
        Reason(
            f"{rule}.vehicles",
            _ok(v <= vmax),
            ctx.ref(national, "vehicle_max_count", "vehicle_exempt_kinds"),
            {"vehicles_counted": v, "vehicles_exempt": assets.vehicles_exempt, "limit": vmax},
            f"{who}名下非豁免机动车、船 {v} 辆"
            f"（豁免类型：{exempt}；已豁免 {assets.vehicles_exempt} 辆），"
            f"{'不超过' if v <= vmax else '超过'}上限 {vmax} 辆",
            member,
        )
    )

    bmax = snap.fen("business_max_value_fen")
    bv = assets.business_value_fen
    out.append(
        Reason(
            f"{rule}.business",
            _ok(bv <= bmax),
            ctx.ref(national, "business_max_value_fen"),
            {"business_count": assets.business_count, "business_value_fen": bv, "limit_fen": bmax},
            f"{who}名下市场主体 {assets.business_count} 户，登记价值合计 {yuan(bv)} 元，"
            f"{'不超过' if bv <= bmax else '超过'}限额 {yuan(bmax)} 元",
            member,
        )
    )
    return out


def completeness_reason(
    ctx: Context, rule: str, missing: tuple[MissingSource, ...], member: int | None = None
) -> Reason:
    ref = ctx.ref("data", "required_sources")
    if not missing:
        whose = "所有成员" if member is None else f"成员 {member} "
        return Reason(
            f"{rule}.completeness",
            Outcome.ELIGIBLE,
            ref,
            {"missing_count": 0},
            f"{whose}的各项核对来源均已答复",
            member,
        )
    parts = [
        f"成员 {x.member} {SOURCE_LABELS.get(x.source, x.source)}（{x.status}）" for x in missing
    ]
    return Reason(
        f"{rule}.completeness",
        Outcome.NEEDS_REVIEW,
        ref,
        {"missing_count": len(missing)},
        "以下来源尚未取得确定结果："
        + "、".join(parts)
        + "；缺失数据不能视为无收入、无财产，需人工复核",
        member,
    )


def _income_sentence(who: str, y: int, verb: str, label: str, t: int) -> str:
    gap = " " if label[:1].isdigit() else ""
    return f"{who}月人均收入 {yuan(y)} 元，{verb}{gap}{label} {yuan(t)} 元"


# --------------------------------------------------------------------------- 低保


def dibao(ctx: Context) -> ProgramResult:
    agg, snap, s = ctx.agg, ctx.snap, ctx.standard
    y, n = agg.monthly_per_capita_fen, agg.size
    reasons: list[Reason] = []
    taper: int | None = None
    receiving = Program.DIBAO in ctx.inp.current_programs
    values: dict[str, JsonScalar] = {"monthly_per_capita_income_fen": y, "standard_fen": s}
    if y < s:
        reasons.append(
            Reason(
                "dibao.income",
                Outcome.ELIGIBLE,
                ctx.ref("dibao", ctx.standard_param),
                values,
                _income_sentence("家庭", y, "低于", "低保标准", s),
            )
        )
    else:
        ceiling, mult = ctx.threshold("taper_ceiling_multiplier")
        values = {
            **values,
            "taper_ceiling_fen": ceiling,
            "taper_multiplier": str(mult),
            "currently_receiving": receiving,
        }
        ref = ctx.ref("dibao", ctx.standard_param, "taper_ceiling_multiplier", "taper_months")
        if y < ceiling and receiving:
            taper = snap.integer("taper_months")
            values["taper_months"] = taper
            reasons.append(
                Reason(
                    "dibao.taper",
                    Outcome.ELIGIBLE,
                    ref,
                    values,
                    _income_sentence("家庭", y, "不低于", "低保标准", s)
                    + f"，但低于 {mult} 倍标准 {yuan(ceiling)} 元；"
                    + f"现为低保家庭，可渐退 {taper} 个月",
                )
            )
        elif y < ceiling:
            reasons.append(
                Reason(
                    "dibao.income",
                    Outcome.INELIGIBLE,
                    ref,
                    values,
                    _income_sentence("家庭", y, "不低于", "低保标准", s)
                    + f"（低于 {mult} 倍标准 {yuan(ceiling)} 元，但渐退仅适用于现低保家庭）",
                )
            )
        else:
            reasons.append(
                Reason(
                    "dibao.income",
                    Outcome.INELIGIBLE,
                    ref,
                    values,
                    _income_sentence("家庭", y, "不低于", "低保标准", s)
                    + f"，且不低于 {mult} 倍标准 {yuan(ceiling)} 元",
                )
            )
    reasons += asset_reasons(ctx, "dibao", "dibao", agg.assets, n, "dibao_financial_asset_months")
    reasons.append(completeness_reason(ctx, "dibao", agg.missing))
    household = worst(r.outcome for r in reasons)
    amount = (s - y) * n if household is not Outcome.INELIGIBLE and y < s else None
    if amount is not None:
        reasons.append(
            Reason(
                "dibao.amount",
                None,
                ctx.ref("dibao", ctx.standard_param),
                {
                    "standard_fen": s,
                    "monthly_per_capita_income_fen": y,
                    "household_size": n,
                    "amount_fen": amount,
                },
                f"参考月补差额 = （{yuan(s)} − {yuan(y)}）× {n} 人 = {yuan(amount)} 元",
            )
        )
    if taper is not None and household is Outcome.INELIGIBLE:
        taper = None
    singles = tuple(_single_person(ctx, m) for m in _single_candidates(ctx))
    outcome = best([household, *(m.outcome for m in singles)])
    return ProgramResult(
        Program.DIBAO,
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
    ref = ctx.ref(
        "dibao",
        "single_person_disability_grades",
        "single_person_serious_illness",
        "single_person_min_age",
    )
    if age is None:
        reasons.append(
            Reason(
                "dibao.single_person.age",
                Outcome.NEEDS_REVIEW,
                ref,
                {"age": None, "min_age": min_age},
                f"成员 {m.index} {why}，年龄未知，需核实是否成年",
                m.index,
            )
        )
    else:
        reasons.append(
            Reason(
                "dibao.single_person.age",
                _ok(age >= min_age),
                ref,
                {"age": age, "min_age": min_age},
                f"成员 {m.index} {why}，{age} 周岁，"
                f"{'已满' if age >= min_age else '未满'} {min_age} 周岁",
                m.index,
            )
        )
    ceiling, mult = ctx.threshold("single_person_household_multiplier")
    y = agg.monthly_per_capita_fen
    reasons.append(
        Reason(
            "dibao.single_person.household_income",
            _ok(y < ceiling),
            ctx.ref("dibao", ctx.standard_param, "single_person_household_multiplier"),
            {"monthly_per_capita_income_fen": y, "ceiling_fen": ceiling, "multiplier": str(mult)},
            _income_sentence(
                "家庭", y, "低于" if y < ceiling else "不低于", f"{mult} 倍低保标准", ceiling
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
    own = ma.monthly_net_income_fen
    reasons.append(
        Reason(
            "dibao.single_person.own_income",
            _ok(own < s),
            ctx.ref("dibao", ctx.standard_param),
            {"own_monthly_income_fen": own, "standard_fen": s},
            f"成员 {m.index} 本人月收入 {yuan(own)} 元，"
            f"{'低于' if own < s else '不低于'}低保标准 {yuan(s)} 元",
            m.index,
        )
    )
    reasons.append(completeness_reason(ctx, "dibao.single_person", agg.missing, m.index))
    outcome = worst(r.outcome for r in reasons)
    amount = s - own if outcome is not Outcome.INELIGIBLE else None
    return MemberResult(m.index, "single_person", outcome, amount, tuple(reasons))


# --------------------------------------------------------------------------- 特困


def tekun(ctx: Context) -> ProgramResult:
    urban = ctx.inp.hukou is Hukou.URBAN
    mparam = "tekun_multiplier_urban" if urban else "tekun_multiplier_rural"
    t, mult = ctx.threshold(mparam)
    results = tuple(
        _tekun_member(ctx, m, t, mult, mparam)
        for m in sorted(ctx.inp.members, key=lambda m: m.index)
    )
    outcome = best(r.outcome for r in results)
    amounts = [r.amount_fen for r in results if r.amount_fen is not None]
    note = Reason(
        "tekun.standard",
        None,
        ctx.ref("tekun", ctx.standard_param, mparam),
        {"standard_fen": ctx.standard, "multiplier": str(mult), "tekun_standard_fen": t},
        f"特困人员基本生活标准 = {yuan(ctx.standard)} 元 × {mult} = {yuan(t)} 元/月",
    )
    return ProgramResult(
        Program.TEKUN,
        outcome,
        (note,),
        amount_fen=sum(amounts) if amounts else None,
        standard_fen=t,
        members=results,
    )


def _tekun_member(ctx: Context, m: Member, t: int, mult: Decimal, mparam: str) -> MemberResult:
    snap, s = ctx.snap, ctx.standard
    ma: MemberAggregate = ctx.agg.member(m.index)
    reasons: list[Reason] = []
    elderly_age = snap.integer("tekun_elderly_age")
    minor_age = snap.integer("tekun_minor_age")
    grades = set(snap.ints("tekun_disability_grades"))
    age = m.age_on(ctx.day)
    ref = ctx.ref("tekun", "tekun_elderly_age", "tekun_minor_age", "tekun_disability_grades")
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
            Reason(
                "tekun.category",
                Outcome.ELIGIBLE,
                ref,
                values,
                f"成员 {m.index} 属于：{'、'.join(kinds)}（无劳动能力情形）",
                m.index,
            )
        )
    elif age is None or m.able_to_work is False:
        reasons.append(
            Reason(
                "tekun.category",
                Outcome.NEEDS_REVIEW,
                ref,
                values,
                f"成员 {m.index} "
                + ("年龄未知" if age is None else "登记为无劳动能力")
                + "，是否属于特困认定的无劳动能力情形需人工认定",
                m.index,
            )
        )
    else:
        reasons.append(
            Reason(
                "tekun.category",
                Outcome.INELIGIBLE,
                ref,
                values,
                f"成员 {m.index} {age} 周岁，不属于老年人、未成年人或规定等级的残疾人",
                m.index,
            )
        )

    sup = m.supporter
    sup_outcome = {
        Supporter.NONE: Outcome.ELIGIBLE,
        Supporter.INCAPABLE: Outcome.ELIGIBLE,
        Supporter.CAPABLE: Outcome.INELIGIBLE,
        Supporter.UNKNOWN: Outcome.NEEDS_REVIEW,
    }[sup]
    sup_text = {
        Supporter.NONE: "无法定赡养、抚养、扶养义务人",
        Supporter.INCAPABLE: "法定义务人无履行义务能力",
        Supporter.CAPABLE: "有具备履行能力的法定义务人",
        Supporter.UNKNOWN: "法定义务人情况未核实，需人工认定",
    }[sup]
    reasons.append(
        Reason(
            "tekun.supporter",
            sup_outcome,
            ctx.ref("tekun"),
            {"supporter": sup.value},
            f"成员 {m.index} {sup_text}",
            m.index,
        )
    )
    own = ma.monthly_net_income_fen
    reasons.append(
        Reason(
            "tekun.own_income",
            _ok(own < s),
            ctx.ref("tekun", ctx.standard_param),
            {"own_monthly_income_fen": own, "standard_fen": s},
            f"成员 {m.index} 本人月收入 {yuan(own)} 元，"
            f"{'低于' if own < s else '不低于'}低保标准 {yuan(s)} 元"
            + ("（无生活来源）" if own < s else ""),
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
    y = agg.monthly_per_capita_fen
    line, mult = ctx.threshold("bianyuan_multiplier")
    reasons = [
        Reason(
            "dibao_bianyuan.income",
            _ok(y < line),
            ctx.ref("bianyuan", ctx.standard_param, "bianyuan_multiplier"),
            {
                "monthly_per_capita_income_fen": y,
                "line_fen": line,
                "multiplier": str(mult),
                "standard_fen": ctx.standard,
            },
            _income_sentence(
                "家庭",
                y,
                "低于" if y < line else "不低于",
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
        Program.DIBAO_BIANYUAN, worst(r.outcome for r in reasons), tuple(reasons), standard_fen=line
    )


# --------------------------------------------------------------------------- 临时救助


def _range(ctx: Context, kind: str) -> tuple[int, int] | None:
    lo, hi = f"linshi_{kind}_min_multiplier", f"linshi_{kind}_max_multiplier"
    if not (ctx.snap.has(lo) and ctx.snap.has(hi)):
        return None
    return times(ctx.standard, ctx.snap.decimal(lo)), times(ctx.standard, ctx.snap.decimal(hi))


def linshi(ctx: Context) -> ProgramResult:
    agg, s = ctx.agg, ctx.standard
    ranges = {
        k: r
        for k in ("emergency", "expense", "illness", "schooling")
        if (r := _range(ctx, k)) is not None
    }
    illness = agg.deductions_fen.get(DeductionKind.ILLNESS, 0)
    schooling = agg.deductions_fen.get(DeductionKind.SCHOOLING, 0)
    # Where the region sets a range for illness or schooling, that range replaces the
    # general 支出型 one for such expenses; with both, the larger maximum is offered.
    options = []
    if illness > 0 and "illness" in ranges:
        options.append(("illness", ranges["illness"]))
    if schooling > 0 and "schooling" in ranges:
        options.append(("schooling", ranges["schooling"]))
    if not options:
        options.append(("expense", ranges["expense"]))
    kind, applicable = max(options, key=lambda kv: (kv[1][1], kv[1][0], kv[0]))
    labels = {
        "emergency": "急难型",
        "expense": "支出型",
        "illness": "支出型（重病）",
        "schooling": "支出型（就学）",
    }
    rigid = agg.rigid_expenses_fen
    reasons = [
        Reason(
            "linshi.rigid_expense",
            _ok(rigid > 0),
            ctx.ref("linshi"),
            {"rigid_expenses_fen": rigid, "illness_fen": illness, "schooling_fen": schooling},
            f"窗口期内有凭证的刚性支出（医疗、康复护理、就学）合计 {yuan(rigid)} 元"
            + ("" if rigid > 0 else "，无支出型救助依据"),
        )
    ]
    y = agg.monthly_per_capita_fen
    line, mult = ctx.threshold("linshi_expense_income_multiplier")
    reasons.append(
        Reason(
            "linshi.income",
            _ok(y < line),
            ctx.ref("linshi", ctx.standard_param, "linshi_expense_income_multiplier"),
            {"monthly_per_capita_income_fen": y, "line_fen": line, "multiplier": str(mult)},
            _income_sentence(
                "扣除刚性支出后家庭",
                y,
                "低于" if y < line else "不低于",
                f"{mult} 倍低保标准",
                line,
            ),
        )
    )
    reasons += asset_reasons(
        ctx, "linshi", "linshi", agg.assets, agg.size, "bianyuan_financial_asset_months"
    )
    reasons.append(completeness_reason(ctx, "linshi", agg.missing))
    params = [
        p for k in ranges for p in (f"linshi_{k}_min_multiplier", f"linshi_{k}_max_multiplier")
    ]
    reasons.append(
        Reason(
            "linshi.ranges",
            None,
            ctx.ref("linshi", ctx.standard_param, *params),
            {
                f"{k}_{e}_fen": v
                for k, r in sorted(ranges.items())
                for e, v in zip(("min", "max"), r, strict=True)
            },
            "；".join(f"{labels[k]} {yuan(r[0])}–{yuan(r[1])} 元" for k, r in ranges.items())
            + f"（适用：{labels[kind]}）；急难型救助按个案事由认定，核对数据不作判断",
        )
    )
    return ProgramResult(
        Program.LINSHI,
        worst(r.outcome for r in reasons),
        tuple(reasons),
        standard_fen=s,
        range_fen=applicable,
        ranges=ranges,
    )


# --------------------------------------------------------------------------- 因病致贫


def yinbing(ctx: Context) -> ProgramResult:
    agg, snap = ctx.agg, ctx.snap
    ill = [m for m in sorted(ctx.inp.members, key=lambda m: m.index) if m.serious_illness]
    reasons = [
        Reason(
            "yinbing_zhipin.patient",
            _ok(bool(ill)),
            ctx.ref("yinbing"),
            {"patients": len(ill)},
            ("家庭成员中有重病患者：" + "、".join(f"成员 {m.index}" for m in ill))
            if ill
            else "家庭成员中无重病患者记录",
        )
    ]
    y = agg.monthly_per_capita_fen
    line, mult = ctx.threshold("yinbing_income_multiplier")
    reasons.append(
        Reason(
            "yinbing_zhipin.income",
            _ok(y < line),
            ctx.ref("yinbing", ctx.standard_param, "yinbing_income_multiplier"),
            {"monthly_per_capita_income_fen": y, "line_fen": line, "multiplier": str(mult)},
            _income_sentence(
                "扣除刚性支出后家庭",
                y,
                "低于" if y < line else "不低于",
                f"{mult} 倍低保标准",
                line,
            ),
        )
    )
    ratio = snap.decimal("yinbing_medical_expense_ratio")
    gross = agg.income_total_fen
    need = times(gross, ratio)
    medical = agg.deductions_fen.get(DeductionKind.ILLNESS, 0)
    reasons.append(
        Reason(
            "yinbing_zhipin.medical_burden",
            _ok(medical >= need),
            ctx.ref("yinbing", "yinbing_medical_expense_ratio"),
            {
                "medical_expenses_fen": medical,
                "household_income_fen": gross,
                "ratio": str(ratio),
                "threshold_fen": need,
            },
            f"窗口期内自付医疗费用 {yuan(medical)} 元，{'达到' if medical >= need else '未达到'}"
            f"家庭同期收入 {yuan(gross)} 元的 {ratio} 倍（{yuan(need)} 元）",
        )
    )
    reasons += asset_reasons(
        ctx, "yinbing_zhipin", "yinbing", agg.assets, agg.size, "bianyuan_financial_asset_months"
    )
    reasons.append(completeness_reason(ctx, "yinbing_zhipin", agg.missing))
    outcome = worst(r.outcome for r in reasons)
    members = tuple(MemberResult(m.index, "patient", outcome, None) for m in ill)
    return ProgramResult(Program.YINBING_ZHIPIN, outcome, tuple(reasons), members=members)


def evaluate(inp: AssessmentInput, agg: Aggregates, snap: Snapshot) -> dict[Program, ProgramResult]:
    urban = inp.hukou is Hukou.URBAN
    sparam = "dibao_standard_urban" if urban else "dibao_standard_rural"
    ctx = Context(inp, agg, snap, snap.fen(sparam), sparam)
    return {
        Program.DIBAO: dibao(ctx),
        Program.TEKUN: tekun(ctx),
        Program.LINSHI: linshi(ctx),
        Program.DIBAO_BIANYUAN: bianyuan(ctx),
        Program.YINBING_ZHIPIN: yinbing(ctx),
    }
