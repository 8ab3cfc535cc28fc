"""ReportSummary.evidence: what the evidence departments found, per member, from the signed
report's records (``verifier.domain.report`` writes them; the envelope is what was signed)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from hedui.v1 import common_pb2 as common
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import CivilEvent, DiagnosisKind, DisabilityType, EducationLevel, EmploymentStatus
from verifier.domain.evidence_codec import EVIDENCE_TYPES

DIAGNOSES_TO_PB = {
    DiagnosisKind.CHRONIC_SPECIAL: common.DIAGNOSIS_KIND_CHRONIC_SPECIAL,
    DiagnosisKind.CATASTROPHIC: common.DIAGNOSIS_KIND_CATASTROPHIC,
}
DISABILITY_TYPES_TO_PB = {
    DisabilityType.VISUAL: common.DISABILITY_TYPE_VISUAL,
    DisabilityType.HEARING: common.DISABILITY_TYPE_HEARING,
    DisabilityType.SPEECH: common.DISABILITY_TYPE_SPEECH,
    DisabilityType.PHYSICAL: common.DISABILITY_TYPE_PHYSICAL,
    DisabilityType.INTELLECTUAL: common.DISABILITY_TYPE_INTELLECTUAL,
    DisabilityType.MENTAL: common.DISABILITY_TYPE_MENTAL,
    DisabilityType.MULTIPLE: common.DISABILITY_TYPE_MULTIPLE,
}
EDUCATION_LEVELS_TO_PB = {
    EducationLevel.PRESCHOOL: common.EDUCATION_LEVEL_PRESCHOOL,
    EducationLevel.PRIMARY: common.EDUCATION_LEVEL_PRIMARY,
    EducationLevel.JUNIOR_SECONDARY: common.EDUCATION_LEVEL_JUNIOR_SECONDARY,
    EducationLevel.SENIOR_SECONDARY: common.EDUCATION_LEVEL_SENIOR_SECONDARY,
    EducationLevel.VOCATIONAL: common.EDUCATION_LEVEL_VOCATIONAL,
    EducationLevel.HIGHER: common.EDUCATION_LEVEL_HIGHER,
}
EMPLOYMENT_TO_PB = {
    EmploymentStatus.EMPLOYED: common.EMPLOYMENT_STATUS_EMPLOYED,
    EmploymentStatus.UNEMPLOYED_REGISTERED: common.EMPLOYMENT_STATUS_UNEMPLOYED_REGISTERED,
}
CIVIL_EVENTS_TO_PB = {
    CivilEvent.MARRIED: common.CIVIL_EVENT_MARRIED,
    CivilEvent.DIVORCED: common.CIVIL_EVENT_DIVORCED,
    CivilEvent.DECEASED: common.CIVIL_EVENT_DECEASED,
}


def envelope_evidence(envelope: bytes) -> list[pb.MemberEvidence]:
    """:func:`member_evidence` of the report a DSSE envelope signs."""
    doc = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    return member_evidence(doc)


def member_evidence(doc: Mapping[str, Any]) -> list[pb.MemberEvidence]:
    """One entry per member any evidence department found something on, in member order."""
    start = date.fromisoformat(doc["window"]["start"])
    end = date.fromisoformat(doc["window"]["end"])
    by_member: dict[int, list[Mapping[str, Any]]] = {}
    for rec in doc.get("records", ()):
        if rec["type"] in EVIDENCE_TYPES:
            by_member.setdefault(int(rec["member_index"]), []).append(rec)
    return [_one(i, recs, start, end) for i, recs in sorted(by_member.items())]


def _within(rec: Mapping[str, Any], start: date, end: date) -> bool:
    last = rec["period_end"]
    return date.fromisoformat(rec["period_start"]) <= end and (
        last is None or date.fromisoformat(last) >= start
    )


def _of(recs: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [r for r in recs if r["type"] == kind]


def _one(
    index: int, recs: Sequence[Mapping[str, Any]], start: date, end: date
) -> pb.MemberEvidence:
    out = pb.MemberEvidence(member_index=index)
    certificates = sorted(_of(recs, "disability_certificate"), key=lambda r: int(r["grade"]))
    if certificates:
        out.disability_grade = int(certificates[0]["grade"])
        out.disability_type = DISABILITY_TYPES_TO_PB[
            DisabilityType(certificates[0]["disability_type"])
        ]
    kinds = {DiagnosisKind(r["kind"]) for r in _of(recs, "diagnosis")}
    out.diagnoses.extend(DIAGNOSES_TO_PB[k] for k in DiagnosisKind if k in kinds)
    bills = [r for r in _of(recs, "medical_expense") if _within(r, start, end)]
    out.medical_self_paid_fen = sum(int(r["self_paid_fen"]) for r in bills)
    schooling = [r for r in _of(recs, "enrolment") if _within(r, start, end)]
    levels = {EducationLevel(r["level"]) for r in schooling}
    out.enrolments.extend(EDUCATION_LEVELS_TO_PB[lv] for lv in EducationLevel if lv in levels)
    out.education_fees_fen = sum(int(r["fees_paid_fen"]) for r in schooling)
    statuses = {
        EmploymentStatus(r["status"]) for r in _of(recs, "employment") if _within(r, start, end)
    }
    out.employment.extend(EMPLOYMENT_TO_PB[s] for s in EmploymentStatus if s in statuses)
    events = sorted(_of(recs, "civil_status"), key=lambda r: str(r["occurred_on"]))
    out.civil_events.extend(CIVIL_EVENTS_TO_PB[CivilEvent(r["event"])] for r in events)
    return out
