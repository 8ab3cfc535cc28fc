"""ReportSummary.evidence: per member, what the evidence departments found, read from the
signed report as the rules read it: statuses in force on the request date, money for the
part of each period inside the window (prorated by days), each kind once, members in order."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import date
from typing import Any

from hedui.v1 import common_pb2 as common
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import DisabilityType, EmploymentStatus, Record
from tests.unit.assess_helpers import (
    W_END,
    W_START,
    adult,
    bill,
    certificate,
    diagnosis,
    enrolment,
    household,
    run,
)
from tests.unit.test_assess_evidence import FOUND, answers, finding
from tests.unit.test_evidence_records import (
    BILL,
    CERTIFICATE,
    DEATH,
    DIAGNOSIS,
    ENROLMENT,
    JOB,
    prov,
)
from verifier.api.evidence_pb import envelope_evidence, member_evidence, request_date
from verifier.domain.report import record_json

WINDOW = {"start": "2025-01-01", "end": "2025-12-31"}
REQUEST_DATE = "2026-01-10"


def report(*records: dict[str, Any]) -> dict[str, Any]:
    return {
        "created_at": "2026-01-10T02:00:00Z",
        "window": WINDOW,
        "aggregates": {"request_date": REQUEST_DATE},
        "records": list(records),
    }


def only(member: int, *records: Record) -> pb.MemberEvidence:
    (out,) = member_evidence(report(*(record_json(member, r) for r in records)))
    return out


def test_each_member_gets_what_the_rules_counted() -> None:
    doc = report(
        record_json(2, BILL),
        # Paid before the window: shown in the report, not summed here.
        record_json(2, replace(BILL, period_start=date(2024, 3, 1), period_end=date(2024, 3, 9))),
        record_json(2, DIAGNOSIS),
        record_json(2, DIAGNOSIS),
        record_json(2, CERTIFICATE),
        record_json(
            2,
            replace(
                CERTIFICATE,
                disability_type=DisabilityType.VISUAL,
                grade=3,
                provenance=prov("disability", "DPF-2"),
            ),
        ),
        # Ended 2025-07-15: its fees inside the window count (196 of its 318 days), but the
        # member is not in school on the request date through it.
        record_json(0, ENROLMENT),
        # Still open: runs to the window's end, 365 of its 853 days inside.
        record_json(
            0,
            replace(
                ENROLMENT,
                period_start=date(2023, 9, 1),
                period_end=None,
                provenance=prov("education", "EDU-2"),
            ),
        ),
        record_json(0, JOB),
        record_json(0, DEATH),
        {"member_index": 1, "type": "income", "amount_fen": 5, "provenance": {}},
    )
    assert member_evidence(doc) == [
        pb.MemberEvidence(
            member_index=0,
            enrolments=[common.EDUCATION_LEVEL_HIGHER],
            # 850_000 × 196/318 + 850_000 × 365/853 = 887_615.67, rounded half up once.
            education_fees_fen=887_616,
            employment=[common.EMPLOYMENT_STATUS_EMPLOYED],
            civil_events=[common.CIVIL_EVENT_DECEASED],
        ),
        pb.MemberEvidence(
            member_index=2,
            disability_grade=1,
            disability_type=common.DISABILITY_TYPE_INTELLECTUAL,
            diagnoses=[common.DIAGNOSIS_KIND_CHRONIC_SPECIAL],
            medical_self_paid_fen=450_000,
        ),
    ]


def test_an_expired_certificate_gives_no_grade_and_one_in_force_beside_it_does() -> None:
    expired = replace(CERTIFICATE, valid_until=date(2025, 12, 31))
    not_yet = replace(
        CERTIFICATE, grade=2, issued_on=date(2026, 2, 1), provenance=prov("disability", "DPF-3")
    )
    out = only(1, expired, not_yet)
    assert (out.disability_grade, out.disability_type) == (0, common.DISABILITY_TYPE_UNSPECIFIED)
    in_force = replace(
        CERTIFICATE,
        disability_type=DisabilityType.VISUAL,
        grade=3,
        provenance=prov("disability", "DPF-2"),
    )
    out = only(1, expired, in_force, not_yet)
    assert (out.disability_grade, out.disability_type) == (3, common.DISABILITY_TYPE_VISUAL)


def test_a_bill_half_inside_the_window_counts_half_its_self_paid_part() -> None:
    # 2024-12-22 to 2025-01-10: 20 days, the last 10 inside the window.
    half = replace(BILL, period_start=date(2024, 12, 22), period_end=date(2025, 1, 10))
    assert only(0, half).medical_self_paid_fen == 450_000 // 2


def test_a_diagnosis_or_registration_ended_before_the_request_date_is_not_counted() -> None:
    ended = replace(DIAGNOSIS, valid_until=date(2025, 12, 31))
    left = replace(JOB, period_end=date(2025, 11, 30))
    out = only(0, ended, left)
    assert (list(out.diagnoses), list(out.employment)) == ([], [])
    later = replace(
        JOB,
        status=EmploymentStatus.UNEMPLOYED_REGISTERED,
        period_start=date(2025, 12, 1),
        provenance=prov("employment", "EMP-2"),
    )
    assert list(only(0, ended, left, later).employment) == [
        common.EMPLOYMENT_STATUS_UNEMPLOYED_REGISTERED
    ]


def test_a_report_without_an_assessment_is_read_on_the_day_it_was_made() -> None:
    doc = report()
    del doc["aggregates"]
    doc["created_at"] = "2025-06-30T23:30:00Z"
    assert request_date(doc) == date(2025, 6, 30)
    doc["records"] = [record_json(0, DEATH), record_json(0, JOB)]
    # The death on 2025-06-15 had happened by then.
    (out,) = member_evidence(doc)
    assert list(out.civil_events) == [common.CIVIL_EVENT_DECEASED]
    doc["created_at"] = "2025-06-14T12:00:00Z"
    (out,) = member_evidence(doc)
    assert (list(out.civil_events), list(out.employment)) == (
        [],
        [common.EMPLOYMENT_STATUS_EMPLOYED],
    )


def test_the_envelope_is_read_as_signed_and_a_report_without_evidence_has_none() -> None:
    doc = report(record_json(0, JOB))
    envelope = json.dumps({"payload": base64.b64encode(json.dumps(doc).encode()).decode()})
    (one,) = envelope_evidence(envelope.encode())
    assert one.employment == [common.EMPLOYMENT_STATUS_EMPLOYED]
    assert member_evidence(report()) == []


def test_the_summary_says_what_the_assessment_found() -> None:
    # One reading: a report made by the rules, its facts section beside the summary. Request
    # 2025-03-10, window 2024-03-01..2025-02-28 (assess_helpers).
    records: list[Record] = [
        replace(certificate(1, "dis-old"), valid_until=date(2024, 12, 31)),
        certificate(3, "dis-new"),
        replace(diagnosis("dx-old"), valid_until=date(2025, 3, 9)),
        # 2025-02-19..2025-03-10: 20 days, 10 inside the window.
        bill(60_000, start=date(2025, 2, 19), end=date(2025, 3, 10)),
        enrolment(30_000, start=date(2024, 9, 1)),
    ]
    inp = household(
        [adult(0, disability_grade=1, serious_illness=True, in_school=True)],
        {0: records},
        sources=answers(1, disability=FOUND, medical_insurance=FOUND, education=FOUND),
    )
    assessed = run(inp)
    doc = {
        "created_at": "2025-03-10T02:00:00Z",
        "window": {"start": W_START.isoformat(), "end": W_END.isoformat()},
        "records": [record_json(0, r) for r in records],
        **assessed,
    }
    (out,) = member_evidence(doc)
    assert (out.disability_grade, out.medical_self_paid_fen, out.education_fees_fen) == (
        finding(assessed, "disability", 0)["found"],
        finding(assessed, "medical_costs", None)["found"],
        finding(assessed, "school_fees", None)["found"],
    )
    assert (out.disability_grade, out.medical_self_paid_fen, out.education_fees_fen) == (
        3,
        30_000,
        30_000,
    )
    assert (bool(out.diagnoses), bool(out.enrolments)) == (
        finding(assessed, "serious_illness", 0)["found"],
        finding(assessed, "in_school", 0)["found"],
    )
    assert (list(out.diagnoses), list(out.enrolments)) == (
        [],
        [common.EDUCATION_LEVEL_SENIOR_SECONDARY],
    )
