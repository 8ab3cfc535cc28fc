"""ReportSummary.evidence: per member, what the evidence departments found, read from the
signed report; money summed over the window only, each kind once, members in order."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import date

from hedui.v1 import common_pb2 as common
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import DisabilityType
from tests.unit.test_evidence_records import (
    BILL,
    CERTIFICATE,
    DEATH,
    DIAGNOSIS,
    ENROLMENT,
    JOB,
    prov,
)
from verifier.api.evidence_pb import envelope_evidence, member_evidence
from verifier.domain.report import record_json

WINDOW = {"start": "2025-01-01", "end": "2025-12-31"}


def test_each_member_gets_what_was_found_with_money_only_from_within_the_window() -> None:
    records = [
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
        record_json(0, ENROLMENT),
        record_json(0, replace(ENROLMENT, period_start=date(2023, 9, 1), period_end=None)),
        record_json(0, JOB),
        record_json(0, DEATH),
        {"member_index": 1, "type": "income", "amount_fen": 5, "provenance": {}},
    ]
    doc = {"window": WINDOW, "records": records}
    assert member_evidence(doc) == [
        pb.MemberEvidence(
            member_index=0,
            enrolments=[common.EDUCATION_LEVEL_HIGHER],
            education_fees_fen=2 * 850_000,
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


def test_the_envelope_is_read_as_signed_and_a_report_without_evidence_has_none() -> None:
    doc = {"window": WINDOW, "records": [record_json(0, JOB)]}
    envelope = json.dumps({"payload": base64.b64encode(json.dumps(doc).encode()).decode()})
    (only,) = envelope_evidence(envelope.encode())
    assert only.employment == [common.EMPLOYMENT_STATUS_EMPLOYED]
    assert member_evidence({"window": WINDOW, "records": []}) == []
