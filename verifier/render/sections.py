"""The printout's sections as plain rows: every label, mark and amount already worded.

The template only lays these out; what a status is called, how money reads and which
parameter is an example are decided here, from the report document and the shared label
tables (:mod:`verifier.domain.labels`), so the printout says what ``hedui report show`` says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from verifier.domain.evidence_labels import (
    EVIDENCE_TYPES,
    evidence_amount_fen,
    evidence_category,
    evidence_sentence,
)
from verifier.domain.labels import (
    ASSET_LABELS,
    INCOME_LABELS,
    OUTCOME_LABELS,
    PURPOSE_LABELS,
    RELATION_LABELS,
    SOURCE_LABELS,
    SOURCE_STATUS_LABELS,
    label,
)
from verifier.domain.money import format_amount, format_yuan
from verifier.domain.report import answered_by
from verifier.render.view import PrintView

BEIJING = timezone(timedelta(hours=8))

# A status is told by a mark and a word together, never by colour alone: a photocopy in
# black and white must still show that 待返回 and 查询失败 are not 无记录.
MARKS: Mapping[str, str] = {
    "FOUND": "●",
    "NOT_FOUND": "○",
    "PENDING": "△",
    "FAILED": "×",
    "DENIED": "■",
    "ABSENT": "□",
}
UNSETTLED = frozenset({"PENDING", "FAILED", "DENIED", "ABSENT"})


@dataclass(frozen=True, slots=True)
class Cell:
    status: str
    mark: str
    word: str
    note: str

    @property
    def unsettled(self) -> bool:
        return self.status in UNSETTLED


@dataclass(frozen=True, slots=True)
class Member:
    index: int
    name: str
    id_number: str
    relation: str


def _str_label(table: Mapping[Any, str], value: object) -> str:
    text = str(value)
    return next((v for k, v in table.items() if str(k) == text), text)


def beijing_time(rfc3339: str) -> str:
    """``2026-11-29T14:00:00Z`` → ``2026-11-29 22:00:00（北京时间）``."""
    try:
        ts = datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return rfc3339
    return ts.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S（北京时间）")


def as_of_date(value: object) -> str:
    return str(value)[:10] if isinstance(value, str) and value else "—"


def source_label(source: object) -> str:
    return SOURCE_LABELS.get(str(source), str(source))


def _purpose(p: object) -> str:
    text = str(p)
    return next((v for k, v in PURPOSE_LABELS.items() if k.value == text), text)


def header(doc: Mapping[str, Any], view: PrintView) -> list[tuple[str, str]]:
    policy = doc.get("policy")
    region = str(doc["region"])
    region_name = str(policy.get("name") or "") if isinstance(policy, Mapping) else ""
    comp = doc.get("completeness", {})
    return [
        ("地区", f"{region_name}（{region}）" if region_name else region),
        ("报告编号", str(doc["report_id"])),
        ("版本", f"第 {doc['version']} 版"),
        ("核对编号", str(doc["verification_id"])),
        ("案件编号", str(doc.get("case_id", ""))),
        ("授权书编号", str(doc.get("authorization_id", ""))),
        ("核对用途", "、".join(_purpose(p) for p in doc.get("purposes", []))),
        ("核对期间", f"{doc['window']['start']} 至 {doc['window']['end']}"),
        ("出具时间", beijing_time(str(doc.get("created_at", "")))),
        (
            "完整性",
            "完整"
            if comp.get("status") == "COMPLETE"
            else f"部分：已答复 {comp.get('answered', 0)}/{comp.get('expected', 0)} 项",
        ),
        ("上一版本 SHA-256", str(doc.get("previous_sha256") or "无（首个版本）")),
        ("身份信息", "完整显示（本次出具已记入审计日志）" if view.full_identities else "已遮蔽"),
    ]


def members(doc: Mapping[str, Any], view: PrintView) -> list[Member]:
    out = []
    for m in doc.get("members", []):
        full = view.identities.get(int(m["index"]))
        out.append(
            Member(
                int(m["index"]),
                full.name if full else str(m["name_masked"]),
                full.id_number if full else str(m["id_number_masked"]),
                label(RELATION_LABELS, m["relation"]),
            )
        )
    return out


def status_grid(doc: Mapping[str, Any]) -> list[tuple[str, list[Cell]]]:
    """Rows of (source label, one cell per member), a source per row so that a household's
    members fit across the page. A source the policy expected but no adapter answered for
    is a row too, shown as 未答复, never as an empty cell."""
    answered = {(s["member_index"], s["source"]): s for s in doc.get("sources", [])}
    expected = {
        m["source"]
        for m in (doc.get("aggregates") or {}).get("completeness", {}).get("missing", [])
        if isinstance(m, Mapping) and "source" in m
    }
    rows = []
    for src in sorted({s for _, s in answered} | expected):
        cells = []
        for m in doc.get("members", []):
            s = answered.get((m["index"], src))
            status = str(s["status"]) if s else "ABSENT"
            note = ""
            if s and status == "PENDING" and s.get("due_date"):
                note = f"预计 {s['due_date']}" + ("（已逾期）" if s.get("overdue") else "")
            elif s and status == "FOUND":
                note = f"{s.get('record_count', 0)} 条"
            if s and s.get("deployment"):
                note = "；".join(n for n in (note, answered_by(s["deployment"])) if n)
            word = label(SOURCE_STATUS_LABELS, status)
            cells.append(Cell(status, MARKS.get(status, "?"), word, note))
        rows.append((source_label(src), cells))
    return rows


def legend() -> list[tuple[str, str]]:
    return [(MARKS[k], SOURCE_STATUS_LABELS[k]) for k in MARKS]


def unsettled(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each source × status × reason not settled, with the members it concerns."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for s in doc.get("sources", []):
        if s["status"] in UNSETTLED:
            key = (
                str(s["source"]),
                str(s["status"]),
                str(s.get("reason") or ""),
                str(s.get("due_date") or "—"),
            )
            groups.setdefault(key, []).append(str(s["member_index"]))
    return [
        {
            "members": "、".join(who),
            "source": source_label(src),
            "status": f"{MARKS.get(status, '?')} {label(SOURCE_STATUS_LABELS, status)}",
            "reason": reason,
            "due": due,
        }
        for (src, status, reason, due), who in groups.items()
    ]


def _record_content(r: Mapping[str, Any]) -> tuple[str, str, str]:
    """(category, what, amount) of one record."""
    kind = r.get("type")
    if kind == "income":
        return (
            _str_label(INCOME_LABELS, r.get("category")),
            f"{r.get('kind', '')}；{r.get('period_start')} 至 {r.get('period_end')}"
            + (f"；支付方 {r['payer']}" if r.get("payer") else ""),
            format_amount(r.get("amount_fen")),
        )
    if kind == "asset":
        extra = [str(r.get("kind", ""))]
        if r.get("count") not in (None, 1):
            extra.append(f"{r['count']} 项")
        if r.get("area_m2"):
            extra.append(f"{r['area_m2']} 平方米")
        return (
            _str_label(ASSET_LABELS, r.get("category")),
            "；".join(e for e in extra if e),
            format_amount(r.get("value_fen")),
        )
    if kind == "contribution":
        return (
            f"社会保险缴费（{r.get('scheme', '')}）",
            f"{r.get('period_start')} 至 {r.get('period_end')}；缴费基数 "
            f"{format_amount(r.get('base_fen'))}",
            format_amount(r.get("paid_fen")),
        )
    if kind == "household_registration":
        return (
            "户籍",
            f"户籍地 {r.get('region_code', '')}；登记 {len(r.get('members', []))} 人",
            "—",
        )
    if kind in EVIDENCE_TYPES:
        amount = evidence_amount_fen(r)
        shown = "—" if amount is None else format_amount(amount)
        return (evidence_category(r), evidence_sentence(r), shown)
    return (str(kind), "", "—")


def records(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for r in doc.get("records", []):
        prov = r.get("provenance") or {}
        category, what, amount = _record_content(r)
        out.append(
            {
                "member": str(r.get("member_index")),
                "department": source_label(prov.get("source"))
                + (f"（{answered_by(prov['deployment'])}）" if prov.get("deployment") else ""),
                "category": category,
                "what": what,
                "amount": amount,
                "as_of": as_of_date(prov.get("as_of")),
                "reference": str(prov.get("record_id") or "—"),
                "adapter": f"{prov.get('adapter', '')} {prov.get('adapter_version', '')}".strip(),
            }
        )
    return out


def money_summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    totals = doc.get("totals") or {}
    return {
        "income": [
            (_str_label(INCOME_LABELS, k), format_yuan(v))
            for k, v in (totals.get("income_by_category") or {}).items()
        ],
        "assets": [
            (_str_label(ASSET_LABELS, k), format_yuan(v))
            for k, v in (totals.get("assets_by_category") or {}).items()
        ],
        "income_total": format_amount(totals.get("income_fen")),
        "assets_total": format_amount(totals.get("assets_fen")),
        "by_member": [
            (str(m["member_index"]), format_yuan(m["income_fen"]), format_yuan(m["assets_fen"]))
            for m in totals.get("by_member", [])
        ],
    }


_UNIT_WORDS: Mapping[str, str] = {
    "fen_per_month": "元/月",
    "fen": "元",
    "count": "项",
    "persons": "人",
}


_GRADES = {0: "无残疾证", 1: "一级", 2: "二级", 3: "三级", 4: "四级"}


def _figure(value: object, unit: str) -> str:
    if unit in ("fen_per_month", "fen"):
        text = format_amount(value)
        return text + ("/月" if unit == "fen_per_month" and text != "—" else "")
    if value is None:
        return "—"
    # A fact compared (ill, in school, employed) is 1 or 0 and a disability a grade, where
    # 0 is no certificate: the printout says so in words, not as a bare number.
    if unit == "flag":
        return "是" if value else "否"
    if unit == "grade" and isinstance(value, int):
        return _GRADES.get(value, str(value))
    return f"{value} {_UNIT_WORDS.get(unit, '')}".strip()


def discrepancies(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for d in doc.get("discrepancies") or []:
        unit = str(d.get("unit", ""))
        out.append(
            {
                "declared": _figure(d.get("declared"), unit),
                "found": _figure(d.get("found"), unit),
                "text": str(d.get("text", "")),
                "reference": str(d.get("reference", "")),
            }
        )
    return out


def _parameter_value(value: object) -> str:
    if isinstance(value, list):
        return "、".join(map(str, value))
    return str(value)


def example_parameters(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    policy = doc.get("policy") or {}
    used = policy.get("parameters_used") or {}
    out = []
    for name in policy.get("example_parameters") or []:
        entry = used.get(name) or {}
        ref = entry.get("reference") or {}
        out.append(
            {
                "name": str(name),
                "value": _parameter_value(entry.get("value", "")),
                "from": str(entry.get("from") or "—"),
                "note": str(ref.get("note") or ""),
            }
        )
    return out


def assessments(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = doc.get("assessments")
    if not isinstance(items, Mapping):
        return []
    out = []
    for a in items.values():
        outcome = str(a.get("outcome"))
        out.append(
            {
                "name": str(a.get("name") or a.get("program")),
                "outcome": label(OUTCOME_LABELS, outcome),
                "outcome_code": outcome,
                "amount": format_amount(a.get("amount_fen")) if a.get("amount_fen") else "—",
                "fallback": str(a.get("fallback") or ""),
                "reasons": [
                    {
                        "rule": str(r.get("rule", "")),
                        "outcome": label(OUTCOME_LABELS, r.get("outcome"))
                        if r.get("outcome")
                        else "说明",
                        "text": str(r.get("text", "")),
                        "reference": str(r.get("reference", "")),
                        "examples": "、".join(map(str, r.get("example_parameters") or [])),
                    }
                    for r in a.get("reasons", [])
                ],
            }
        )
    return out


def policy_line(doc: Mapping[str, Any]) -> str:
    policy = doc.get("policy") or {}
    if not policy:
        return ""
    sha = str(policy.get("sha256") or "")
    return (
        f"政策文件 {policy.get('file', '')}（{policy.get('name', '')}，版本 "
        f"{policy.get('version', '')}，SHA-256 {sha[:16]}…）"
    )


def member_label(ms: Sequence[Member]) -> Mapping[str, str]:
    return {str(m.index): f"{m.index} {m.name}（{m.relation}）" for m in ms}


def fragments(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """The peers' signed answers (异地协查) the report embeds, with their provenance: who
    answered, the key that signed, the answer's SHA-256 and the peer's audit seq."""
    return [
        {
            "peer": str(f.get("peer", "")),
            "key_id": str(f.get("key_id", "")),
            "envelope_sha256": str(f.get("envelope_sha256", "")),
            "release_seq": str(f.get("release_seq", "")),
        }
        for f in doc.get("fragments", [])
        if isinstance(f, Mapping)
    ]
