"""``explain``: a Chinese rule trace from an assessment's JSON (``hedui policy explain``).

It reads only the JSON that went into the signed report, never the current policy files,
so it explains what was decided then, with the values used then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verifier.domain.household import HukouNature
from verifier.domain.labels import (
    BASIS_LABELS,
    FACT_LABELS,
    HUKOU_LABELS,
    OUTCOME_LABELS,
    ROUTE_LABELS,
    SOURCE_LABELS,
    SOURCE_STATUS_LABELS,
    label,
)
from verifier.domain.money import format_amount

MARK = {"ELIGIBLE": "✓", "NEEDS_REVIEW": "?", "INELIGIBLE": "✗", None: "·"}


def _hukou(v: object) -> str:
    return HUKOU_LABELS[HukouNature(v)] if isinstance(v, str) and v in set(HukouNature) else "—"


def _reason_lines(r: Mapping[str, Any], indent: str) -> list[str]:
    mark = MARK.get(r.get("outcome"), "·")
    lines = [f"{indent}{mark} [{r.get('rule', '')}] {r.get('text', '')}"]
    ref = r.get("reference")
    if ref:
        lines.append(f"{indent}    依据：{ref}")
    examples = r.get("example_parameters") or []
    if examples:
        lines.append(f"{indent}    其中示例参数（无文件规定）：{'、'.join(map(str, examples))}")
    return lines


def _fact_value(fact: str, v: object) -> str:
    if v is None:
        return "—"
    if fact == "disability":
        return f"{v} 级" if isinstance(v, int) and not isinstance(v, bool) and v else "无"
    if fact == "employment":
        return "有劳动能力" if v else "无劳动能力"
    if fact == "alive":
        return "健在" if v else "已死亡"
    if fact in ("medical_costs", "school_fees"):
        return format_amount(v)
    return "是" if v else "否"


def fact_rows(assessment_json: Mapping[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(whose, fact, how it was known, source and answer, declared, found) per finding of
    the ``facts`` section, as ``policy explain`` and ``policy assess`` show them."""
    rows = []
    for f in (assessment_json.get("facts") or {}).get("findings", []):
        fact = str(f.get("fact"))
        member = f.get("member")
        rows.append(
            (
                "家庭" if member is None else f"成员 {member}",
                label(FACT_LABELS, fact),
                label(BASIS_LABELS, f.get("basis")),
                f"{label(SOURCE_LABELS, f.get('source'))}"
                f"（{label(SOURCE_STATUS_LABELS, f.get('status'))}）",
                _fact_value(fact, f.get("declared")),
                _fact_value(fact, f.get("found")),
            )
        )
    return rows


def explain(assessment_json: Mapping[str, Any]) -> str:
    """A rule trace in Chinese from ``Assessment.to_json()`` (or the same keys of a report)."""
    out: list[str] = []
    pol = assessment_json.get("policy", {})
    agg = assessment_json.get("aggregates", {})
    out.append(
        f"核对政策：{pol.get('name', '')}（{pol.get('id', '')} "
        f"版本 {pol.get('version', '')}，SHA-256 {pol.get('sha256', '')}）"
    )
    w = agg.get("window", {})
    out.append(
        f"申请日期：{agg.get('request_date', '')}；核对期间：{w.get('start', '')} 至 "
        f"{w.get('end', '')}（{w.get('months', '')} 个月）；户籍性质："
        f"{_hukou(agg.get('hukou'))}"
    )
    inc = agg.get("income_fen", {})
    ded = agg.get("deductions_fen", {})
    out.append(
        f"家庭人口：{agg.get('household_size')} 人；"
        f"期间收入合计 {format_amount(inc.get('total'))}；"
        f"扣除 {format_amount(ded.get('total'))}；月人均收入 "
        f"{format_amount(agg.get('monthly_per_capita_income_fen'))}"
    )
    examples = pol.get("example_parameters") or []
    if examples:
        out.append(
            f"注意：本次评估使用了 {len(examples)} 项示例参数（无文件规定，需由地区按本地正式"
            f"文件设定）：{'、'.join(map(str, examples))}；相关结论不能作为正式依据"
        )
    comp = agg.get("completeness", {})
    if not comp.get("complete", False):
        n = len(comp.get("missing", []))
        out.append(f"注意：{n} 项核对来源未取得确定结果，相关结论需人工复核")
    out.append("")
    for key, prog in assessment_json.get("assessments", {}).items():
        outcome = prog.get("outcome")
        head = f"【{prog.get('name', key)}】{label(OUTCOME_LABELS, outcome)}"
        extras = []
        if prog.get("amount_fen") is not None:
            extras.append(f"参考金额 {format_amount(prog['amount_fen'])}/月")
        taper = prog.get("taper_months_range")
        if isinstance(taper, Mapping):
            extras.append(
                f"渐退 {taper.get('min')}–{taper.get('max')} 个月，由审核确认机关在范围内决定"
            )
        elif prog.get("taper_months") is not None:  # reports issued before ranges
            extras.append(f"渐退 {prog['taper_months']} 个月")
        rng = prog.get("range_fen")
        if rng:
            extras.append(
                f"参考救助额 {format_amount(rng.get('min'))}–{format_amount(rng.get('max'))}"
                + ("，可一事一议提高" if prog.get("case_by_case") else "")
            )
        elif prog.get("fallback"):
            extras.append("无本地档次，按省级和国家规定确定救助金额")
        if extras:
            head += "（" + "；".join(extras) + "）"
        out.append(head)
        for r in prog.get("reasons", []):
            out.extend(_reason_lines(r, "  "))
        for m in prog.get("members", []):
            line = (
                f"  成员 {m.get('member')}（{label(ROUTE_LABELS, m.get('route'))}）："
                f"{label(OUTCOME_LABELS, m.get('outcome'))}"
            )
            if m.get("amount_fen") is not None:
                line += f"，参考金额 {format_amount(m['amount_fen'])}/月"
            out.append(line)
            for r in m.get("reasons", []):
                out.extend(_reason_lines(r, "    "))
        out.append("")
    rows = fact_rows(assessment_json)
    if rows:
        out.append("【核实情况】各成员情况和刚性支出是经部门核实还是按申报")
        for whose, fact, basis, source, declared, found in rows:
            out.append(f"  · {whose} {fact}：{basis}；{source}；申报 {declared}，核实 {found}")
        out.append("")
    disc = assessment_json.get("discrepancies", [])
    out.append("【申报与核对结果差异】" + ("无超出容差的差异" if not disc else f"{len(disc)} 项"))
    for d in disc:
        out.append(f"  · {d.get('text', '')}")
        ids = [
            f"{label(SOURCE_LABELS, e.get('source'))}:{e.get('record_id')}"
            for e in d.get("evidence", [])
        ]
        if ids:
            out.append(f"    记录：{'、'.join(ids)}")
    out.append("以上为核对系统的参考性结论，是否给予救助由审核确认机关依法决定。")
    return "\n".join(out) + "\n"
