"""How views say the evidence records: one Chinese sentence per record for `hedui report
show` and the printable report, bills summed per kind, the amount the family paid."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.unit.test_evidence_records import ALL, BILL, CERTIFICATE, ENROLMENT
from verifier.domain.evidence_labels import (
    evidence_amount_fen,
    evidence_category,
    evidence_sentence,
    medical_sentence,
)
from verifier.domain.report import record_json
from verifier.render.sections import records


def as_json(record: Any) -> dict[str, Any]:
    return record_json(0, record)


def test_each_evidence_record_is_one_sentence_with_its_facts() -> None:
    assert [evidence_sentence(as_json(r)) for r in ALL] == [
        "住院 2025-03-02 至 2025-03-12，县医院：总费用 ¥12,500.00，基金支付 ¥8,000.00，"
        "个人自付 ¥4,500.00",
        "门诊慢特病：糖尿病，2024-05-01 认定，有效至 2026-12-31",
        "残疾人证：智力残疾一级，2019-06-01 发证，长期有效",
        "高等教育在读：某职业技术学院，2024-09-01 至 2025-07-15，已缴费用 ¥8,500.00",
        "就业登记：某有限公司，2020-03-01 起",
        "死亡（殡葬）登记：2025-06-15",
    ]


def test_bills_of_one_kind_are_summed() -> None:
    second = record_json(0, BILL.__class__(
        "inpatient", date(2025, 8, 1), date(2025, 8, 3), 100_000, 60_000, 40_000, "",
        BILL.provenance,
    ))  # fmt: skip
    assert medical_sentence("inpatient", [as_json(BILL), second]) == (
        "医疗费用（住院）2 笔：总费用 ¥13,500.00，基金支付 ¥8,600.00，个人自付 ¥4,900.00"
    )


def test_categories_and_the_amount_the_family_paid() -> None:
    assert evidence_category(as_json(BILL)) == "医疗费用（住院）"
    assert evidence_category(as_json(CERTIFICATE)) == "残疾人证"
    assert evidence_amount_fen(as_json(BILL)) == 450_000
    assert evidence_amount_fen(as_json(ENROLMENT)) == 850_000
    assert evidence_amount_fen(as_json(CERTIFICATE)) is None


def test_the_printable_report_lists_evidence_records_with_their_department() -> None:
    rows = records({"records": [as_json(BILL), as_json(CERTIFICATE)]})
    assert [(r["department"], r["category"], r["amount"], r["reference"]) for r in rows] == [
        ("医保", "医疗费用（住院）", "¥4,500.00", "MI-1"),
        ("残联", "残疾人证", "—", "DPF-1"),
    ]
    assert rows[1]["what"] == "残疾人证：智力残疾一级，2019-06-01 发证，长期有效"
