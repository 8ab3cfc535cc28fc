"""What the sandbox's 医保, 残联, 教育, 人社 就业 and 民政 departments hold about a person.

As in :mod:`hedui_sdk.sandbox.facts`, these are the department's own records: a
``record_id`` but no hedui provenance. Money is integer fen; ``None`` ends are open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hedui_sdk.records import (
    CivilEvent,
    DiagnosisKind,
    DisabilityType,
    EducationLevel,
    EmploymentStatus,
)


@dataclass(frozen=True, slots=True)
class MedicalExpenseFact:
    """One settled medical bill (医保结算): ``self_paid_fen`` is what the family paid."""

    record_id: str
    kind: str
    period_start: date
    period_end: date
    total_fen: int
    fund_paid_fen: int
    self_paid_fen: int
    provider: str


@dataclass(frozen=True, slots=True)
class DiagnosisFact:
    """A certified 门诊慢特病 or 重特大疾病 diagnosis."""

    record_id: str
    kind: DiagnosisKind
    condition: str
    certified_on: date
    valid_until: date | None


@dataclass(frozen=True, slots=True)
class DisabilityFact:
    """A disability certificate (残疾人证): type and grade (1 most severe)."""

    record_id: str
    disability_type: DisabilityType
    grade: int
    issued_on: date
    valid_until: date | None


@dataclass(frozen=True, slots=True)
class EnrolmentFact:
    """One school year at one school, with the fees paid for it."""

    record_id: str
    level: EducationLevel
    institution: str
    period_start: date
    period_end: date | None
    fees_paid_fen: int


@dataclass(frozen=True, slots=True)
class EmploymentFact:
    """An employment or unemployment registration (就业/失业登记)."""

    record_id: str
    status: EmploymentStatus
    employer: str
    period_start: date
    period_end: date | None


@dataclass(frozen=True, slots=True)
class CivilFact:
    """A marriage, divorce or death registration."""

    record_id: str
    event: CivilEvent
    occurred_on: date


EvidenceFact = (
    MedicalExpenseFact | DiagnosisFact | DisabilityFact | EnrolmentFact | EmploymentFact | CivilFact
)
"""Any fact of the five evidence departments."""


def evidence_overlaps(fact: EvidenceFact, start: date, end: date) -> bool:
    """Whether a fact belongs in an answer for the window ``start``..``end`` (inclusive).

    Bills, enrolments and registrations do when their period overlaps the window (an open
    end runs on); certificates, diagnoses and civil events are standing facts and always do.
    """
    if isinstance(fact, MedicalExpenseFact):
        return fact.period_start <= end and fact.period_end >= start
    if isinstance(fact, EnrolmentFact | EmploymentFact):
        return fact.period_start <= end and (fact.period_end is None or fact.period_end >= start)
    return True
