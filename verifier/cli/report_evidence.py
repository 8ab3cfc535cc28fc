"""The evidence section of ``hedui report show``: what 医保, 残联, 教育, 人社 就业 and 民政
answered about each member, one line per record (medical bills summed per kind)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from verifier.domain.evidence_labels import EVIDENCE_TYPES, evidence_sentence, medical_sentence
from verifier.domain.labels import SOURCE_LABELS


def evidence_table(doc: Mapping[str, Any]) -> Table | None:
    """The section, or ``None`` when no evidence department found anything."""
    records = [r for r in doc.get("records", []) if r.get("type") in EVIDENCE_TYPES]
    if not records:
        return None
    table = Table(title="部门核实的成员情况（残联、医保、教育、人社、民政）")
    table.add_column("成员")
    table.add_column("来源")
    table.add_column("核实内容")
    table.add_column("记录编号")
    order = {t: i for i, t in enumerate(EVIDENCE_TYPES)}
    rows: list[tuple[int, int, str, str, str]] = []
    bills: dict[tuple[int, str], list[Mapping[str, Any]]] = {}
    for rec in records:
        member, prov = rec["member_index"], rec["provenance"]
        if rec["type"] == "medical_expense":
            bills.setdefault((member, rec["kind"]), []).append(rec)
        else:
            sentence = evidence_sentence(rec)
            rows.append((member, order[rec["type"]], prov["source"], sentence, prov["record_id"]))
    for (member, kind), group in bills.items():
        ids = [b["provenance"]["record_id"] for b in group]
        first = ids[0] if len(ids) == 1 else f"{ids[0]} 等 {len(ids)} 条"
        source = group[0]["provenance"]["source"]
        rows.append(
            (member, order["medical_expense"], source, medical_sentence(kind, group), first)
        )
    for member, _, source, sentence, record_id in sorted(rows):
        table.add_row(str(member), SOURCE_LABELS.get(source, source), sentence, record_id)
    return table
