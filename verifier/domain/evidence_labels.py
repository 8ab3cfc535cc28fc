"""Chinese words for the evidence records (医保, 残联, 教育, 人社 就业, 民政) and one
sentence per record, as ``hedui report show`` and other views say them.

The sentences are built from a report's record JSON (``verifier.domain.report``), so a
view needs nothing but the signed document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hedui_sdk import (
    CivilEvent,
    DiagnosisKind,
    DisabilityType,
    EducationLevel,
    EmploymentStatus,
)
from verifier.domain.money import format_amount

MEDICAL_KIND_LABELS: Mapping[str, str] = {
    "inpatient": "住院",
    "outpatient": "门诊",
    "pharmacy": "定点药店购药",
}
DIAGNOSIS_LABELS: Mapping[str, str] = {
    DiagnosisKind.CHRONIC_SPECIAL: "门诊慢特病",
    DiagnosisKind.CATASTROPHIC: "重特大疾病",
}
DISABILITY_TYPE_LABELS: Mapping[str, str] = {
    DisabilityType.VISUAL: "视力残疾",
    DisabilityType.HEARING: "听力残疾",
    DisabilityType.SPEECH: "言语残疾",
    DisabilityType.PHYSICAL: "肢体残疾",
    DisabilityType.INTELLECTUAL: "智力残疾",
    DisabilityType.MENTAL: "精神残疾",
    DisabilityType.MULTIPLE: "多重残疾",
}
GRADE_LABELS: Mapping[int, str] = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}
EDUCATION_LABELS: Mapping[str, str] = {
    EducationLevel.PRESCHOOL: "学前教育",
    EducationLevel.PRIMARY: "小学",
    EducationLevel.JUNIOR_SECONDARY: "初中",
    EducationLevel.SENIOR_SECONDARY: "普通高中",
    EducationLevel.VOCATIONAL: "中等职业教育",
    EducationLevel.HIGHER: "高等教育",
}
EMPLOYMENT_LABELS: Mapping[str, str] = {
    EmploymentStatus.EMPLOYED: "就业登记",
    EmploymentStatus.UNEMPLOYED_REGISTERED: "失业登记",
}
CIVIL_EVENT_LABELS: Mapping[str, str] = {
    CivilEvent.MARRIED: "结婚登记",
    CivilEvent.DIVORCED: "离婚登记",
    CivilEvent.DECEASED: "死亡（殡葬）登记",
}

EVIDENCE_TYPES = (
    "disability_certificate",
    "diagnosis",
    "medical_expense",
    "enrolment",
    "employment",
    "civil_status",
)
"""The evidence record types, in the order a view lists them."""


def _span(start: object, end: object) -> str:
    return f"{start} 起" if end is None else f"{start} 至 {end}"


def _validity(until: object) -> str:
    return "长期有效" if until is None else f"有效至 {until}"


_CATEGORIES: Mapping[str, str] = {
    "disability_certificate": "残疾人证",
    "diagnosis": "认定病种",
    "medical_expense": "医疗费用",
    "enrolment": "在学",
    "employment": "就业失业登记",
    "civil_status": "婚姻殡葬登记",
}


def evidence_category(rec: Mapping[str, Any]) -> str:
    """What kind of finding a record is (``医疗费用（住院）``, ``残疾人证``…)."""
    t = str(rec["type"])
    if t == "medical_expense":
        return f"医疗费用（{MEDICAL_KIND_LABELS.get(rec['kind'], rec['kind'])}）"
    return _CATEGORIES.get(t, t)


def evidence_amount_fen(rec: Mapping[str, Any]) -> int | None:
    """The amount a view shows beside the record: what the family paid, if anything."""
    if rec["type"] == "medical_expense":
        return int(rec["self_paid_fen"])
    if rec["type"] == "enrolment":
        return int(rec["fees_paid_fen"])
    return None


def evidence_sentence(rec: Mapping[str, Any]) -> str:
    """One evidence record (report JSON) as a sentence (:func:`medical_sentence` sums a
    member's bills of one kind)."""
    t = rec["type"]
    if t == "medical_expense":
        provider = f"，{rec['provider']}" if rec["provider"] else ""
        return (
            f"{MEDICAL_KIND_LABELS.get(rec['kind'], rec['kind'])} "
            f"{_span(rec['period_start'], rec['period_end'])}{provider}：总费用 "
            f"{format_amount(rec['total_fen'])}，基金支付 {format_amount(rec['fund_paid_fen'])}，"
            f"个人自付 {format_amount(rec['self_paid_fen'])}"
        )
    if t == "disability_certificate":
        grade = GRADE_LABELS.get(rec["grade"], str(rec["grade"]))
        kind = DISABILITY_TYPE_LABELS.get(rec["disability_type"], rec["disability_type"])
        return f"残疾人证：{kind}{grade}，{rec['issued_on']} 发证，{_validity(rec['valid_until'])}"
    if t == "diagnosis":
        kind = DIAGNOSIS_LABELS.get(rec["kind"], rec["kind"])
        return (
            f"{kind}：{rec['condition']}，{rec['certified_on']} 认定，"
            f"{_validity(rec['valid_until'])}"
        )
    if t == "enrolment":
        level = EDUCATION_LABELS.get(rec["level"], rec["level"])
        return (
            f"{level}在读：{rec['institution']}，{_span(rec['period_start'], rec['period_end'])}，"
            f"已缴费用 {format_amount(rec['fees_paid_fen'])}"
        )
    if t == "employment":
        status = EMPLOYMENT_LABELS.get(rec["status"], rec["status"])
        employer = f"：{rec['employer']}" if rec["employer"] else ""
        return f"{status}{employer}，{_span(rec['period_start'], rec['period_end'])}"
    if t == "civil_status":
        return f"{CIVIL_EVENT_LABELS.get(rec['event'], rec['event'])}：{rec['occurred_on']}"
    return str(t)


def medical_sentence(kind: str, bills: list[Mapping[str, Any]]) -> str:
    """A member's bills of one kind, summed: how many, the whole cost and what was paid."""
    total = sum(int(b["total_fen"]) for b in bills)
    fund = sum(int(b["fund_paid_fen"]) for b in bills)
    own = sum(int(b["self_paid_fen"]) for b in bills)
    return (
        f"医疗费用（{MEDICAL_KIND_LABELS.get(kind, kind)}）{len(bills)} 笔：总费用 "
        f"{format_amount(total)}，基金支付 {format_amount(fund)}，个人自付 {format_amount(own)}"
    )
