"""The contract checks of the evidence records (医保, 残联, 教育, 人社 就业, 民政).

Used by :func:`hedui_sdk.validation.record_problems`; kept apart so that each module holds
one family of records. Problems name the field and the type found, never a value.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from hedui_sdk.records import (
    CivilEvent,
    CivilStatusRecord,
    DiagnosisKind,
    DiagnosisRecord,
    DisabilityCertificateRecord,
    DisabilityType,
    EducationLevel,
    EmploymentRecord,
    EmploymentStatus,
    EnrolmentRecord,
    MedicalExpenseRecord,
)

EVIDENCE_RECORD_TYPES: tuple[type, ...] = (
    MedicalExpenseRecord,
    DiagnosisRecord,
    DisabilityCertificateRecord,
    EnrolmentRecord,
    EmploymentRecord,
    CivilStatusRecord,
)
"""The evidence record types an adapter may return."""

MEDICAL_EXPENSE_KINDS = frozenset({"inpatient", "outpatient", "pharmacy"})
"""The ``kind`` of a :class:`~hedui_sdk.records.MedicalExpenseRecord`."""


def evidence_money_fields(record: object) -> dict[str, object]:
    """The fields of an evidence record that must hold integer fen (``grade`` too is whole)."""
    if isinstance(record, MedicalExpenseRecord):
        return {
            "total_fen": record.total_fen,
            "fund_paid_fen": record.fund_paid_fen,
            "self_paid_fen": record.self_paid_fen,
        }
    if isinstance(record, EnrolmentRecord):
        return {"fees_paid_fen": record.fees_paid_fen}
    if isinstance(record, DisabilityCertificateRecord):
        return {"grade": record.grade}
    return {}


def evidence_problems(record: object) -> list[str]:
    """What is wrong with an evidence record's own fields (money types are checked by the
    caller through :func:`evidence_money_fields`)."""
    if isinstance(record, MedicalExpenseRecord):
        problems = _strings(record, "kind", "provider") + _span(
            record.period_start, record.period_end, "period_start", "period_end"
        )
        if isinstance(record.kind, str) and record.kind not in MEDICAL_EXPENSE_KINDS:
            problems.append(f"kind must be one of {', '.join(sorted(MEDICAL_EXPENSE_KINDS))}")
        money = (record.total_fen, record.fund_paid_fen, record.self_paid_fen)
        if all(type(v) is int for v in money):
            if min(money) < 0:
                problems.append("total_fen, fund_paid_fen and self_paid_fen must not be negative")
            elif record.fund_paid_fen + record.self_paid_fen > record.total_fen:
                problems.append("fund_paid_fen and self_paid_fen must not exceed total_fen")
        return problems
    if isinstance(record, DiagnosisRecord):
        return (
            _enum(record.kind, DiagnosisKind, "kind")
            + _strings(record, "condition")
            + _span(record.certified_on, record.valid_until, "certified_on", "valid_until")
        )
    if isinstance(record, DisabilityCertificateRecord):
        problems = _enum(record.disability_type, DisabilityType, "disability_type")
        if type(record.grade) is int and not 1 <= record.grade <= 4:
            problems.append("grade must be from 1 to 4")
        return problems + _span(record.issued_on, record.valid_until, "issued_on", "valid_until")
    if isinstance(record, EnrolmentRecord):
        problems = _enum(record.level, EducationLevel, "level") + _strings(record, "institution")
        if type(record.fees_paid_fen) is int and record.fees_paid_fen < 0:
            problems.append("fees_paid_fen must not be negative")
        return problems + _span(
            record.period_start, record.period_end, "period_start", "period_end"
        )
    if isinstance(record, EmploymentRecord):
        return (
            _enum(record.status, EmploymentStatus, "status")
            + _strings(record, "employer")
            + _span(record.period_start, record.period_end, "period_start", "period_end")
        )
    if isinstance(record, CivilStatusRecord):
        return _enum(record.event, CivilEvent, "event") + _span(
            record.occurred_on, None, "occurred_on", ""
        )
    return []


def _enum(value: object, kind: type[StrEnum], name: str) -> list[str]:
    if isinstance(value, kind):
        return []
    return [f"{name} must be a hedui_sdk.{kind.__name__}, not {type(value).__name__}"]


def _strings(record: object, *names: str) -> list[str]:
    return [
        f"{name} must be a str, not {type(getattr(record, name)).__name__}"
        for name in names
        if not isinstance(getattr(record, name), str)
    ]


def _span(start: object, end: object, start_name: str, end_name: str) -> list[str]:
    """A required first day and an optional last day (``None``: open), not before it."""
    # A datetime is a date too, but these are recorded by the day.
    problems = []
    if type(start) is not date:
        problems.append(f"{start_name} must be a datetime.date, not {type(start).__name__}")
    if end is not None and type(end) is not date:
        problems.append(f"{end_name} must be a datetime.date or None, not {type(end).__name__}")
    if not problems and end is not None and start > end:  # type: ignore[operator]
        problems.append(f"{start_name} is after {end_name}")
    return problems
