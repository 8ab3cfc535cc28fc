"""ReportSummary.evidence: what the evidence departments found, per member, from the signed
report's records (``verifier.domain.report`` writes them; the envelope is what was signed).

The records are read as the rules read them, by the very functions the rules call
(:mod:`verifier.policy.fact_records`), so the summary never shows a grade, a diagnosis, a
registration or an amount the assessment did not count: a status in force on the request
date, a bill or fee for the part of its period inside the window, prorated by days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from hedui.v1 import common_pb2 as common
from hedui.v1 import verification_pb2 as pb

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
    Provenance,
    Record,
    Window,
)
from verifier.domain.evidence_codec import EVIDENCE_TYPES, evidence_from_json
from verifier.domain.household import DeductionKind
from verifier.domain.money import half_up
from verifier.policy.aggregate import Evidence
from verifier.policy.fact_records import expense_in_window, read_member
from verifier.signing.dsse import unverified_document

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
    return member_evidence(unverified_document(envelope))


def member_evidence(doc: Mapping[str, Any]) -> list[pb.MemberEvidence]:
    """One entry per member any evidence department found something on, in member order,
    saying what the assessment counted of it."""
    day = request_date(doc)
    window = Window(
        date.fromisoformat(doc["window"]["start"]), date.fromisoformat(doc["window"]["end"])
    )
    by_member: dict[int, list[Record]] = {}
    for rec in doc.get("records", ()):
        if rec["type"] in EVIDENCE_TYPES:
            by_member.setdefault(int(rec["member_index"]), []).append(_record(rec))
    return [_one(i, recs, day, window) for i, recs in sorted(by_member.items())]


def request_date(doc: Mapping[str, Any]) -> date:
    """The day the rules read the records on: the assessment's request date, or, when the
    report has no assessment, the day it was made (the day an assessment would have used)."""
    aggregates = doc.get("aggregates")
    if isinstance(aggregates, Mapping) and "request_date" in aggregates:
        return date.fromisoformat(aggregates["request_date"])
    return datetime.fromisoformat(doc["created_at"]).astimezone(UTC).date()


def _record(rec: Mapping[str, Any]) -> Record:
    p = rec["provenance"]
    prov = Provenance(
        p["source"],
        p["adapter"],
        p["adapter_version"],
        p["record_id"],
        datetime.fromisoformat(p["as_of"]),
    )
    return evidence_from_json(dict(rec), prov)


def _one(index: int, recs: Sequence[Record], day: date, window: Window) -> pb.MemberEvidence:
    # The rules' own reading (verifier.policy.fact_records): a status counts when it is in
    # force on the request date, money for the part of its period inside the window.
    seen, _ = read_member(index, recs, day)

    def counted(fact: str) -> list[Record]:
        evidence = set(seen.of(fact))
        return [r for r in recs if Evidence.of(index, r.provenance) in evidence]

    def spent(kind: DeductionKind) -> int:
        exact, _ = expense_in_window(index, recs, kind, window)
        return half_up(exact)

    out = pb.MemberEvidence(member_index=index)
    certificates = [
        r
        for r in counted("disability")
        if isinstance(r, DisabilityCertificateRecord) and r.grade == seen.grade
    ]
    if certificates:
        out.disability_grade = certificates[0].grade
        out.disability_type = DISABILITY_TYPES_TO_PB[certificates[0].disability_type]
    kinds = {r.kind for r in counted("serious_illness") if isinstance(r, DiagnosisRecord)}
    out.diagnoses.extend(DIAGNOSES_TO_PB[k] for k in DiagnosisKind if k in kinds)
    out.medical_self_paid_fen = spent(DeductionKind.ILLNESS)
    levels = {r.level for r in counted("in_school") if isinstance(r, EnrolmentRecord)}
    out.enrolments.extend(EDUCATION_LEVELS_TO_PB[lv] for lv in EducationLevel if lv in levels)
    out.education_fees_fen = spent(DeductionKind.SCHOOLING)
    statuses = {r.status for r in counted("employment") if isinstance(r, EmploymentRecord)}
    out.employment.extend(EMPLOYMENT_TO_PB[s] for s in EmploymentStatus if s in statuses)
    events = sorted(
        (r for r in recs if isinstance(r, CivilStatusRecord) and r.occurred_on <= day),
        key=lambda r: r.occurred_on,
    )
    out.civil_events.extend(CIVIL_EVENTS_TO_PB[r.event] for r in events)
    return out
