"""The gateway decoder reads the 医保, 残联, 教育, 人社 就业 and 民政 record types into SDK
records with provenance, and refuses each off-contract field by name, never by value."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

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
    IncomeCategory,
    IncomeRecord,
    MedicalExpenseRecord,
    PermanentSourceError,
    Record,
)
from hedui_sdk.builtin.decoding import Origin, decode_final

ORIGIN = Origin("medical_insurance", "medical-insurance-gateway", "1.0.0")
AS_OF = "2025-12-31T15:59:59Z"

BILL = {
    "type": "medical_expense", "record_id": "MI-1", "kind": "inpatient",
    "period_start": "2025-03-02", "period_end": "2025-03-12", "total_fen": 1_250_000,
    "fund_paid_fen": 800_000, "self_paid_fen": 450_000, "provider": "高青县人民医院",
}  # fmt: skip
DIAGNOSIS = {
    "type": "diagnosis", "record_id": "MI-2", "kind": "catastrophic", "condition": "尿毒症",
    "certified_on": "2024-05-01", "valid_until": None,
}  # fmt: skip
CERTIFICATE = {
    "type": "disability_certificate", "record_id": "DPF-1", "disability_type": "physical",
    "grade": 2, "issued_on": "2019-06-01", "valid_until": "2029-05-31",
}  # fmt: skip
ENROLMENT = {
    "type": "enrolment", "record_id": "EDU-1", "level": "senior_secondary",
    "institution": "高青第一中学", "period_start": "2025-09-01", "period_end": None,
    "fees_paid_fen": 180_000,
}  # fmt: skip
EMPLOYMENT = {
    "type": "employment", "record_id": "EMP-1", "status": "unemployed_registered",
    "employer": "", "period_start": "2025-04-01",
}  # fmt: skip
BENEFIT = {
    "type": "income", "record_id": "EMP-2", "category": "transfer",
    "kind": "unemployment_benefit", "period_start": "2025-04-01", "period_end": "2025-04-30",
    "amount_fen": 170_000, "payer": "高青县社会保险事业中心",
}  # fmt: skip
DEATH = {
    "type": "civil_status",
    "record_id": "CA-1",
    "event": "deceased",
    "occurred_on": "2025-06-15",
}


def decode(*records: dict[str, Any]) -> tuple[Record, ...]:
    body = {"status": "FOUND", "as_of": AS_OF, "records": list(records)}
    return decode_final(body, ORIGIN).records


def test_each_evidence_type_becomes_its_sdk_record_with_provenance() -> None:
    bill, diagnosis, certificate, enrolment, employment, benefit, death = decode(
        BILL, DIAGNOSIS, CERTIFICATE, ENROLMENT, EMPLOYMENT, BENEFIT, DEATH
    )
    assert isinstance(bill, MedicalExpenseRecord)
    assert (bill.kind, bill.total_fen, bill.fund_paid_fen, bill.self_paid_fen) == (
        "inpatient", 1_250_000, 800_000, 450_000,
    )  # fmt: skip
    assert (bill.period_start, bill.period_end) == (date(2025, 3, 2), date(2025, 3, 12))
    assert bill.provenance.record_id == "MI-1"
    assert bill.provenance.source == "medical_insurance"
    assert bill.provenance.as_of == datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC)
    assert diagnosis == DiagnosisRecord(
        DiagnosisKind.CATASTROPHIC, "尿毒症", date(2024, 5, 1), None, diagnosis.provenance
    )
    assert isinstance(certificate, DisabilityCertificateRecord)
    assert (certificate.disability_type, certificate.grade) == (DisabilityType.PHYSICAL, 2)
    assert certificate.valid_until == date(2029, 5, 31)
    assert isinstance(enrolment, EnrolmentRecord)
    assert (enrolment.level, enrolment.period_end, enrolment.fees_paid_fen) == (
        EducationLevel.SENIOR_SECONDARY, None, 180_000,
    )  # fmt: skip
    assert isinstance(employment, EmploymentRecord)
    assert (employment.status, employment.employer, employment.period_end) == (
        EmploymentStatus.UNEMPLOYED_REGISTERED, "", None,
    )  # fmt: skip
    assert isinstance(benefit, IncomeRecord)
    assert (benefit.category, benefit.kind) == (IncomeCategory.TRANSFER, "unemployment_benefit")
    assert death == CivilStatusRecord(CivilEvent.DECEASED, date(2025, 6, 15), death.provenance)


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            out.pop(key)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    ("record", "names"),
    [
        (_with(BILL, kind="dental"), "records[0].kind"),
        (_with(BILL, total_fen=12.5), "records[0].total_fen"),
        (_with(BILL, self_paid_fen=-1), "records[0].self_paid_fen"),
        (_with(BILL, self_paid_fen=True), "records[0].self_paid_fen"),
        (_with(BILL, fund_paid_fen=900_000), "fund_paid_fen and self_paid_fen exceed total_fen"),
        (_with(BILL, period_end="2025-03-01"), "records[0].period_start is after period_end"),
        (_with(BILL, period_start="2025-3-2"), "records[0].period_start"),
        (_with(DIAGNOSIS, kind="serious"), "records[0].kind"),
        (_with(DIAGNOSIS, condition=""), "records[0].condition"),
        (_with(DIAGNOSIS, valid_until="2024-04-30"), "valid_until is before certified_on"),
        (_with(DIAGNOSIS, certified_on=...), "records[0].certified_on"),
        (_with(CERTIFICATE, grade=5), "records[0].grade"),
        (_with(CERTIFICATE, grade=0), "records[0].grade"),
        (_with(CERTIFICATE, grade="2"), "records[0].grade"),
        (_with(CERTIFICATE, grade=True), "records[0].grade"),
        (_with(CERTIFICATE, disability_type="Physical"), "records[0].disability_type"),
        (_with(CERTIFICATE, issued_on="２０１９-06-01"), "records[0].issued_on"),
        (_with(ENROLMENT, level="college"), "records[0].level"),
        (_with(ENROLMENT, institution=...), "records[0].institution"),
        (_with(ENROLMENT, fees_paid_fen=None), "records[0].fees_paid_fen"),
        (_with(ENROLMENT, period_end="2025-08-31"), "period_start is after period_end"),
        (_with(EMPLOYMENT, status="employed"), "records[0].employer"),
        (_with(EMPLOYMENT, status="retired"), "records[0].status"),
        (_with(DEATH, event="widowed"), "records[0].event"),
        (_with(DEATH, occurred_on="2025-02-30"), "records[0].occurred_on is not a real date"),
    ],
)
def test_an_off_contract_field_is_refused_by_name(record: dict[str, Any], names: str) -> None:
    with pytest.raises(PermanentSourceError) as err:
        decode(record)
    assert names in str(err.value)
    # Names the field, never the department's value (values can be personal data).
    for value in record.values():
        if isinstance(value, str) and len(value) > 3 and value not in str(record.get("type")):
            assert value not in str(err.value)


def test_an_employed_registration_names_its_employer() -> None:
    (record,) = decode(_with(EMPLOYMENT, status="employed", employer="高青宏达纺织有限公司"))
    assert isinstance(record, EmploymentRecord)
    assert record.employer == "高青宏达纺织有限公司"
