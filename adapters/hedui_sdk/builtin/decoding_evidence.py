"""Strict decoding of the evidence record types of gateway protocol v1.

医保 answers ``medical_expense`` and ``diagnosis``, 残联 ``disability_certificate``, 教育
``enrolment``, 人社 就业 ``employment`` (and ``income`` for unemployment benefits), 民政
``civil_status`` (docs/gateway-protocol.md). As everywhere in the decoder, anything
off-contract is a :class:`~hedui_sdk.errors.PermanentSourceError` naming the field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from hedui_sdk.builtin.fields import JsonObject, day, fen, open_period, optional_day, period, text
from hedui_sdk.errors import PermanentSourceError
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
    Provenance,
    Record,
)
from hedui_sdk.validation_evidence import MEDICAL_EXPENSE_KINDS

_E = TypeVar("_E", bound=StrEnum)


def decode_evidence(kind: object, rec: JsonObject, where: str, prov: Provenance) -> Record | None:
    """The evidence record of type ``kind``; ``None`` when ``kind`` is none of them."""
    if kind == "medical_expense":
        return _medical_expense(rec, where, prov)
    if kind == "diagnosis":
        return _diagnosis(rec, where, prov)
    if kind == "disability_certificate":
        return _disability(rec, where, prov)
    if kind == "enrolment":
        return _enrolment(rec, where, prov)
    if kind == "employment":
        return _employment(rec, where, prov)
    if kind == "civil_status":
        return CivilStatusRecord(
            event=_choice(CivilEvent, rec, "event", where),
            occurred_on=day(rec.get("occurred_on"), f"{where}.occurred_on"),
            provenance=prov,
        )
    return None


def _medical_expense(rec: JsonObject, where: str, prov: Provenance) -> MedicalExpenseRecord:
    start, end = period(rec, where)
    kind = text(rec, "kind", where, required=True)
    if kind not in MEDICAL_EXPENSE_KINDS:
        raise PermanentSourceError(
            f"{where}.kind must be one of {', '.join(sorted(MEDICAL_EXPENSE_KINDS))}"
        )
    total = fen(rec, "total_fen", where)
    fund_paid = fen(rec, "fund_paid_fen", where)
    self_paid = fen(rec, "self_paid_fen", where)
    # Other payers (医疗救助, a commercial policy) may cover part of a bill, so the two
    # parts need not add up to the total; they may never exceed it.
    if fund_paid + self_paid > total:
        raise PermanentSourceError(f"{where}.fund_paid_fen and self_paid_fen exceed total_fen")
    return MedicalExpenseRecord(
        kind=kind,
        period_start=start,
        period_end=end,
        total_fen=total,
        fund_paid_fen=fund_paid,
        self_paid_fen=self_paid,
        provider=text(rec, "provider", where),
        provenance=prov,
    )


def _diagnosis(rec: JsonObject, where: str, prov: Provenance) -> DiagnosisRecord:
    certified_on = day(rec.get("certified_on"), f"{where}.certified_on")
    valid_until = optional_day(rec, "valid_until", where)
    if valid_until is not None and valid_until < certified_on:
        raise PermanentSourceError(f"{where}.valid_until is before certified_on")
    return DiagnosisRecord(
        kind=_choice(DiagnosisKind, rec, "kind", where),
        condition=text(rec, "condition", where, required=True),
        certified_on=certified_on,
        valid_until=valid_until,
        provenance=prov,
    )


def _disability(rec: JsonObject, where: str, prov: Provenance) -> DisabilityCertificateRecord:
    grade = rec.get("grade")
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 4:
        raise PermanentSourceError(f"{where}.grade must be an integer from 1 to 4")
    issued_on = day(rec.get("issued_on"), f"{where}.issued_on")
    valid_until = optional_day(rec, "valid_until", where)
    if valid_until is not None and valid_until < issued_on:
        raise PermanentSourceError(f"{where}.valid_until is before issued_on")
    return DisabilityCertificateRecord(
        disability_type=_choice(DisabilityType, rec, "disability_type", where),
        grade=grade,
        issued_on=issued_on,
        valid_until=valid_until,
        provenance=prov,
    )


def _enrolment(rec: JsonObject, where: str, prov: Provenance) -> EnrolmentRecord:
    start, end = open_period(rec, where)
    return EnrolmentRecord(
        level=_choice(EducationLevel, rec, "level", where),
        institution=text(rec, "institution", where, required=True),
        period_start=start,
        period_end=end,
        fees_paid_fen=fen(rec, "fees_paid_fen", where),
        provenance=prov,
    )


def _employment(rec: JsonObject, where: str, prov: Provenance) -> EmploymentRecord:
    start, end = open_period(rec, where)
    status = _choice(EmploymentStatus, rec, "status", where)
    # An employment registration names its employer; an unemployment registration has none.
    employer = text(rec, "employer", where, required=status is EmploymentStatus.EMPLOYED)
    return EmploymentRecord(
        status=status, employer=employer, period_start=start, period_end=end, provenance=prov
    )


def _choice(kind: type[_E], rec: JsonObject, key: str, where: str) -> _E:
    value = rec.get(key)
    allowed = {member.value: member for member in kind}
    if not isinstance(value, str) or value not in allowed:
        raise PermanentSourceError(f"{where}.{key} must be one of {', '.join(allowed)}")
    return allowed[value]
