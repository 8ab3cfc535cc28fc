"""JSON for the evidence records (医保, 残联, 教育, 人社 就业, 民政): one shape for the sealed
records and the report.

These records hold no ID number or name (the subject is the member they are filed under),
so the report shows them whole, as the department gave them, and sealed storage keeps the
same fields. Money is integer fen; dates are ISO ``YYYY-MM-DD``; an open end is ``null``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hedui_sdk import (
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
    Provenance,
    Record,
)

EvidenceRecord = (
    MedicalExpenseRecord
    | DiagnosisRecord
    | DisabilityCertificateRecord
    | EnrolmentRecord
    | EmploymentRecord
    | CivilStatusRecord
)
"""The records this module encodes."""

EVIDENCE_TYPES = frozenset(
    {
        "medical_expense",
        "diagnosis",
        "disability_certificate",
        "enrolment",
        "employment",
        "civil_status",
    }
)
"""The ``type`` of each evidence record in JSON."""


def _day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _from_day(s: str | None) -> date | None:
    return None if s is None else date.fromisoformat(s)


def evidence_json(r: EvidenceRecord) -> dict[str, Any]:
    """The record's fields with its ``type``, without provenance (each caller adds its own)."""
    if isinstance(r, MedicalExpenseRecord):
        return {
            "type": "medical_expense", "kind": r.kind,
            "period_start": r.period_start.isoformat(), "period_end": r.period_end.isoformat(),
            "total_fen": r.total_fen, "fund_paid_fen": r.fund_paid_fen,
            "self_paid_fen": r.self_paid_fen, "provider": r.provider,
        }  # fmt: skip
    if isinstance(r, DiagnosisRecord):
        return {
            "type": "diagnosis", "kind": r.kind.value, "condition": r.condition,
            "certified_on": r.certified_on.isoformat(), "valid_until": _day(r.valid_until),
        }  # fmt: skip
    if isinstance(r, DisabilityCertificateRecord):
        return {
            "type": "disability_certificate", "disability_type": r.disability_type.value,
            "grade": r.grade, "issued_on": r.issued_on.isoformat(),
            "valid_until": _day(r.valid_until),
        }  # fmt: skip
    if isinstance(r, EnrolmentRecord):
        return {
            "type": "enrolment", "level": r.level.value, "institution": r.institution,
            "period_start": r.period_start.isoformat(), "period_end": _day(r.period_end),
            "fees_paid_fen": r.fees_paid_fen,
        }  # fmt: skip
    if isinstance(r, EmploymentRecord):
        return {
            "type": "employment", "status": r.status.value, "employer": r.employer,
            "period_start": r.period_start.isoformat(), "period_end": _day(r.period_end),
        }  # fmt: skip
    return {
        "type": "civil_status",
        "event": r.event.value,
        "occurred_on": r.occurred_on.isoformat(),
    }


def evidence_from_json(d: dict[str, Any], prov: Provenance) -> Record:
    """The record :func:`evidence_json` wrote (``d["type"]`` one of :data:`EVIDENCE_TYPES`)."""
    t = d["type"]
    if t == "medical_expense":
        return MedicalExpenseRecord(
            d["kind"], date.fromisoformat(d["period_start"]), date.fromisoformat(d["period_end"]),
            d["total_fen"], d["fund_paid_fen"], d["self_paid_fen"], d["provider"], prov,
        )  # fmt: skip
    if t == "diagnosis":
        return DiagnosisRecord(
            DiagnosisKind(d["kind"]), d["condition"], date.fromisoformat(d["certified_on"]),
            _from_day(d["valid_until"]), prov,
        )  # fmt: skip
    if t == "disability_certificate":
        return DisabilityCertificateRecord(
            DisabilityType(d["disability_type"]), d["grade"], date.fromisoformat(d["issued_on"]),
            _from_day(d["valid_until"]), prov,
        )  # fmt: skip
    if t == "enrolment":
        return EnrolmentRecord(
            EducationLevel(d["level"]), d["institution"], date.fromisoformat(d["period_start"]),
            _from_day(d["period_end"]), d["fees_paid_fen"], prov,
        )  # fmt: skip
    if t == "employment":
        return EmploymentRecord(
            EmploymentStatus(d["status"]), d["employer"], date.fromisoformat(d["period_start"]),
            _from_day(d["period_end"]), prov,
        )  # fmt: skip
    if t == "civil_status":
        return CivilStatusRecord(CivilEvent(d["event"]), date.fromisoformat(d["occurred_on"]), prov)
    raise ValueError(f"unknown record type {t!r}")
