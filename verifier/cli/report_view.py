"""A readable report summary with Chinese labels (rich)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from verifier.cli.report_evidence import evidence_table
from verifier.domain.household import Purpose
from verifier.domain.labels import (
    OUTCOME_LABELS,
    PURPOSE_LABELS,
    RELATION_LABELS,
    SOURCE_LABELS,
    SOURCE_STATUS_LABELS,
    label,
)
from verifier.domain.money import format_yuan
from verifier.domain.report import answered_by

_COLOURS: Mapping[str, str] = {
    "FOUND": "green",
    "FAILED": "red",
    "PENDING": "yellow",
    "DENIED": "red",
    "ELIGIBLE": "green",
    "INELIGIBLE": "red",
    "NEEDS_REVIEW": "yellow",
}


def coloured(table: Mapping[str, str], value: object) -> str:
    """``value``'s Chinese label, in rich markup coloured by what it means."""
    text = label(table, value)
    colour = _COLOURS.get(str(value))
    return f"[{colour}]{text}[/]" if colour else text


def _status(value: str) -> str:
    return coloured(SOURCE_STATUS_LABELS, value) if value in SOURCE_STATUS_LABELS else "—"


def _cell(entry: Mapping[str, Any] | None) -> str:
    """A member × source's status, and the peer deployment that answered it (异地协查)."""
    if entry is None:
        return _status("")
    by = answered_by(entry.get("deployment"))
    return _status(entry["status"]) + (f"\n{escape(by)}" if by else "")


def render(doc: Mapping[str, Any], key_id: str, console: Console) -> None:
    head = Table.grid(padding=(0, 2))
    head.add_row("报告编号", doc["report_id"], "版本", str(doc["version"]))
    head.add_row("核对编号", doc["verification_id"], "案件编号", doc["case_id"])
    head.add_row("授权书编号", doc["authorization_id"], "地区", doc["region"])
    head.add_row(
        "核对用途",
        "、".join(PURPOSE_LABELS.get(Purpose(p), p) for p in doc["purposes"]),
        "核对期间",
        f"{doc['window']['start']} 至 {doc['window']['end']}",
    )
    head.add_row("生成时间", doc["created_at"], "签名密钥", key_id[:16] + "…")
    comp = doc["completeness"]
    head.add_row(
        "完整性",
        "完整"
        if comp["status"] == "COMPLETE"
        else f"[yellow]部分（{comp['answered']}/{comp['expected']}）[/]",
        "上一版本",
        (doc.get("previous_sha256") or "—")[:16],
    )

    sources = sorted({s["source"] for s in doc["sources"]})
    grid = Table(title="各来源 × 各成员核对状态")
    grid.add_column("来源")
    for m in doc["members"]:
        relation = label(RELATION_LABELS, m["relation"])
        grid.add_column(f"{m['index']} {m['name_masked']}（{relation}）\n{m['id_number_masked']}")
    entries = {(s["member_index"], s["source"]): s for s in doc["sources"]}
    for src in sources:
        grid.add_row(
            SOURCE_LABELS.get(src, src),
            *(_cell(entries.get((m["index"], src))) for m in doc["members"]),
        )

    totals = doc["totals"]
    money = Table.grid(padding=(0, 2))
    money.add_row("核对期间收入合计", format_yuan(totals["income_fen"]))
    money.add_row("资产合计", format_yuan(totals["assets_fen"]))
    parts: list[Any] = [head, grid, money]
    evidence = evidence_table(doc)
    if evidence is not None:
        parts.append(evidence)

    failures = [s for s in doc["sources"] if s["status"] in ("FAILED", "DENIED", "PENDING")]
    if failures:
        f = Table(title="未完成的来源（不等于无记录）")
        f.add_column("成员")
        f.add_column("来源")
        f.add_column("状态")
        f.add_column("原因")
        for s in failures:
            f.add_row(
                str(s["member_index"]),
                SOURCE_LABELS.get(s["source"], s["source"]),
                coloured(SOURCE_STATUS_LABELS, s["status"]),
                s["reason"],
            )
        parts.append(f)

    assessments = doc.get("assessments")
    if isinstance(assessments, dict) and assessments:
        a = Table(title="救助项目评估（参考意见，由工作人员审核决定）")
        a.add_column("项目")
        a.add_column("结论")
        a.add_column("参考金额")
        a.add_column("理由")
        for item in assessments.values():
            outcome = str(item.get("outcome"))
            # The reasons that decided the outcome; the full trace is `hedui policy explain`.
            decisive = [r for r in item.get("reasons", []) if r.get("outcome") == outcome]
            reasons = "\n".join(str(r.get("text", "")) for r in decisive or item.get("reasons", []))
            amount = item.get("amount_fen")
            a.add_row(
                str(item.get("name") or item.get("program")),
                coloured(OUTCOME_LABELS, outcome),
                format_yuan(amount) if isinstance(amount, int) and amount else "—",
                reasons,
            )
        parts.append(a)
    elif doc.get("assessment_unavailable"):
        parts.append(f"[yellow]未评估[/]: {doc['assessment_unavailable']}")
    discrepancies = doc.get("discrepancies")
    if isinstance(discrepancies, list) and discrepancies:
        d = Table(title="申报与核对结果差异（诚信核查证据，由工作人员判断）")
        d.add_column("说明")
        for item in discrepancies:
            d.add_row(str(item.get("text", "")))
        parts.append(d)
    console.print(Panel(Group(*parts), title="家庭经济状况核对报告", subtitle=doc["schema"]))
