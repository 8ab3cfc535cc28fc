"""The evidence records of ``hedui policy assess``'s records file: 医保 bills and
diagnoses, 残联 certificates, 教育 enrolments, 人社 registrations and 民政 events, in the
report's own format (:mod:`verifier.domain.evidence_codec`). Each field is read by type,
so a wrong one is named by its place, never echoed.
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
``provenance``."""


class Readers:
    """The typed field readers of the records file (each raises naming the place)."""

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
