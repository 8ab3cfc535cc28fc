"""The evidence records (医保, 残联, 教育, 人社 就业, 民政): the contract check hedui and the
conformance kit share, sealed storage that gives back exactly what was stored, and the
report's record JSON with provenance."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

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
from hedui_sdk.validation import record_problems
from verifier.domain.records_codec import records_from_json, records_to_json
from verifier.domain.report import record_json

AS_OF = datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC)


def prov(source: str, record_id: str) -> Provenance:
    return Provenance(source, f"{source}-gateway", "1.0.0", record_id, AS_OF)


BILL = MedicalExpenseRecord(
    "inpatient", date(2025, 3, 2), date(2025, 3, 12), 1_250_000, 800_000, 450_000, "县医院",
    prov("medical_insurance", "MI-1"),
)  # fmt: skip
DIAGNOSIS = DiagnosisRecord(
    DiagnosisKind.CHRONIC_SPECIAL, "糖尿病", date(2024, 5, 1), date(2026, 12, 31),
    prov("medical_insurance", "MI-2"),
)  # fmt: skip
CERTIFICATE = DisabilityCertificateRecord(
    DisabilityType.INTELLECTUAL, 1, date(2019, 6, 1), None, prov("disability", "DPF-1")
)
ENROLMENT = EnrolmentRecord(
    EducationLevel.HIGHER, "某职业技术学院", date(2024, 9, 1), date(2025, 7, 15), 850_000,
    prov("education", "EDU-1"),
)  # fmt: skip
JOB = EmploymentRecord(
    EmploymentStatus.EMPLOYED, "某有限公司", date(2020, 3, 1), None, prov("employment", "EMP-1")
)
DEATH = CivilStatusRecord(CivilEvent.DECEASED, date(2025, 6, 15), prov("civil_affairs", "CA-1"))
ALL: tuple[Record, ...] = (BILL, DIAGNOSIS, CERTIFICATE, ENROLMENT, JOB, DEATH)


@pytest.mark.parametrize("record", ALL, ids=lambda r: type(r).__name__)
def test_a_well_formed_evidence_record_has_no_problems(record: Record) -> None:
    assert record_problems(record, record.provenance.source) == []


@pytest.mark.parametrize(
    ("record", "change", "problem"),
    [
        (BILL, {"total_fen": 12.5}, "total_fen must be an int (fen), not float"),
        (BILL, {"self_paid_fen": -1}, "must not be negative"),
        (BILL, {"fund_paid_fen": 900_000}, "must not exceed total_fen"),
        (BILL, {"kind": "dental"}, "kind must be one of inpatient, outpatient, pharmacy"),
        (BILL, {"period_end": date(2025, 3, 1)}, "period_start is after period_end"),
        (DIAGNOSIS, {"kind": "chronic_special"}, "kind must be a hedui_sdk.DiagnosisKind"),
        (DIAGNOSIS, {"valid_until": date(2024, 4, 1)}, "certified_on is after valid_until"),
        (CERTIFICATE, {"grade": 5}, "grade must be from 1 to 4"),
        (CERTIFICATE, {"grade": 1.0}, "grade must be an int"),
        (
            CERTIFICATE,
            {"issued_on": datetime(2019, 6, 1, tzinfo=UTC)},
            "issued_on must be a datetime.date, not datetime",
        ),
        (ENROLMENT, {"fees_paid_fen": -5}, "fees_paid_fen must not be negative"),
        (ENROLMENT, {"level": "higher"}, "level must be a hedui_sdk.EducationLevel"),
        (JOB, {"employer": None}, "employer must be a str, not NoneType"),
        (DEATH, {"event": "deceased"}, "event must be a hedui_sdk.CivilEvent"),
    ],
)
def test_each_evidence_field_is_checked(
    record: Record, change: dict[str, object], problem: str
) -> None:
    bad = replace(record, **change)  # type: ignore[arg-type]
    problems = record_problems(bad, record.provenance.source)
    assert any(problem in p for p in problems), problems


def test_the_provenance_must_name_the_answering_source() -> None:
    assert record_problems(CERTIFICATE, "education") == [
        "provenance.source is 'disability', not 'education'"
    ]


def test_sealed_evidence_records_read_back_exactly() -> None:
    assert records_from_json(records_to_json(ALL)) == ALL


def test_the_report_shows_each_evidence_record_whole_with_its_provenance() -> None:
    assert [record_json(1, r) for r in ALL] == [
        {
            "member_index": 1, "type": "medical_expense", "kind": "inpatient",
            "period_start": "2025-03-02", "period_end": "2025-03-12", "total_fen": 1_250_000,
            "fund_paid_fen": 800_000, "self_paid_fen": 450_000, "provider": "县医院",
            "provenance": _prov_json("medical_insurance", "MI-1"),
        },
        {
            "member_index": 1, "type": "diagnosis", "kind": "chronic_special",
            "condition": "糖尿病", "certified_on": "2024-05-01", "valid_until": "2026-12-31",
            "provenance": _prov_json("medical_insurance", "MI-2"),
        },
        {
            "member_index": 1, "type": "disability_certificate",
            "disability_type": "intellectual", "grade": 1, "issued_on": "2019-06-01",
            "valid_until": None, "provenance": _prov_json("disability", "DPF-1"),
        },
        {
            "member_index": 1, "type": "enrolment", "level": "higher",
            "institution": "某职业技术学院", "period_start": "2024-09-01",
            "period_end": "2025-07-15", "fees_paid_fen": 850_000,
            "provenance": _prov_json("education", "EDU-1"),
        },
        {
            "member_index": 1, "type": "employment", "status": "employed",
            "employer": "某有限公司", "period_start": "2020-03-01", "period_end": None,
            "provenance": _prov_json("employment", "EMP-1"),
        },
        {
            "member_index": 1, "type": "civil_status", "event": "deceased",
            "occurred_on": "2025-06-15", "provenance": _prov_json("civil_affairs", "CA-1"),
        },
    ]  # fmt: skip


def _prov_json(source: str, record_id: str) -> dict[str, str]:
    return {
        "source": source,
        "adapter": f"{source}-gateway",
        "adapter_version": "1.0.0",
        "record_id": record_id,
        "as_of": "2025-12-31T15:59:59Z",
    }
