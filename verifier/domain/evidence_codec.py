"""JSON for the evidence records (医保, 残联, 教育, 人社 就业, 民政): one shape for the sealed
records and the report.

These records hold no ID number or name (the subject is the member they are filed under),
so the report shows them whole, as the department gave them, and sealed storage keeps the
same fields. Money is integer fen; dates are ISO ``YYYY-MM-DD``; an open end is ``null``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

EVIDENCE_KEYS: Mapping[str, frozenset[str]] = {
    "medical_expense": frozenset(
        {
            "kind",
            "period_start",
            "period_end",
            "total_fen",
            "fund_paid_fen",
            "self_paid_fen",
            "provider",
        }
    ),
    "diagnosis": frozenset({"kind", "condition", "certified_on", "valid_until"}),
    "disability_certificate": frozenset({"disability_type", "grade", "issued_on", "valid_until"}),
    "enrolment": frozenset({"level", "institution", "period_start", "period_end", "fees_paid_fen"}),
    "employment": frozenset({"status", "employer", "period_start", "period_end"}),
    "civil_status": frozenset({"event", "occurred_on"}),
}
"""The fields of each evidence record type, besides ``member_index``, ``type`` and
``provenance`` (what ``hedui policy assess``'s records file may give)."""

EVIDENCE_TYPES = frozenset(EVIDENCE_KEYS)
"""The ``type`` of each evidence record in JSON."""


def _day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


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


class Readers:
    """How an evidence record's fields are read: as stored (:data:`STORED`), or from a
    file a person wrote, where each reader names the place of a wrong field."""

    def __init__(
        self,
        text: Callable[[Mapping[str, Any], str, str], str],
        integer: Callable[[Mapping[str, Any], str, str], int],
        day: Callable[[Mapping[str, Any], str, str], date],
        enum: Callable[[Any, Mapping[str, Any], str, str], Any],
    ) -> None:
        self.text, self.integer, self.day, self.enum = text, integer, day, enum

    def optional_day(self, d: Mapping[str, Any], key: str, where: str) -> date | None:
        return None if d.get(key) is None else self.day(d, key, where)


STORED = Readers(
    lambda d, k, _where: d[k],
    lambda d, k, _where: d[k],
    lambda d, k, _where: date.fromisoformat(d[k]),
    lambda cls, d, k, _where: cls(d[k]),
)
"""Readers of what :func:`evidence_json` wrote."""


def evidence_record(
    kind: str, d: Mapping[str, Any], where: str, prov: Provenance, r: Readers
) -> Record:
    """The evidence record of type ``kind`` (a key of :data:`EVIDENCE_KEYS`)."""
    if kind == "medical_expense":
        return MedicalExpenseRecord(
            r.text(d, "kind", where),
            r.day(d, "period_start", where),
            r.day(d, "period_end", where),
            r.integer(d, "total_fen", where),
            r.integer(d, "fund_paid_fen", where),
            r.integer(d, "self_paid_fen", where),
            r.text(d, "provider", where),
            prov,
        )
    if kind == "diagnosis":
        return DiagnosisRecord(
            r.enum(DiagnosisKind, d, "kind", where),
            r.text(d, "condition", where),
            r.day(d, "certified_on", where),
            r.optional_day(d, "valid_until", where),
            prov,
        )
    if kind == "disability_certificate":
        return DisabilityCertificateRecord(
            r.enum(DisabilityType, d, "disability_type", where),
            r.integer(d, "grade", where),
            r.day(d, "issued_on", where),
            r.optional_day(d, "valid_until", where),
            prov,
        )
    if kind == "enrolment":
        return EnrolmentRecord(
            r.enum(EducationLevel, d, "level", where),
            r.text(d, "institution", where),
            r.day(d, "period_start", where),
            r.optional_day(d, "period_end", where),
            r.integer(d, "fees_paid_fen", where),
            prov,
        )
    if kind == "employment":
        return EmploymentRecord(
            r.enum(EmploymentStatus, d, "status", where),
            r.text(d, "employer", where),
            r.day(d, "period_start", where),
            r.optional_day(d, "period_end", where),
            prov,
        )
    return CivilStatusRecord(
        r.enum(CivilEvent, d, "event", where), r.day(d, "occurred_on", where), prov
    )


def evidence_from_json(d: dict[str, Any], prov: Provenance) -> Record:
    """The record :func:`evidence_json` wrote (``d["type"]`` one of :data:`EVIDENCE_TYPES`)."""
    t = d["type"]
    if t not in EVIDENCE_TYPES:
        raise ValueError(f"unknown record type {t!r}")
    return evidence_record(t, d, "", prov, STORED)
