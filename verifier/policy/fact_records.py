"""Reading the evidence departments' records of one member on the request date.

A certificate, a diagnosis, an enrolment or a registration counts when it is in force on
that day; a death when it happened by then; bills and fees for the part of their period
inside the window, prorated by days as income is (an enrolment still open runs to the
window's end). :mod:`verifier.policy.facts` decides what the rules make of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from hedui_sdk import (
    CivilEvent,
    CivilStatusRecord,
    DiagnosisRecord,
    DisabilityCertificateRecord,
    EmploymentRecord,
    EnrolmentRecord,
    MedicalExpenseRecord,
    Record,
    Window,
)
from verifier.domain.household import DeductionKind
from verifier.policy.aggregate import Evidence, overlap_share


@dataclass(frozen=True, slots=True)
class Death:
    """A member 民政 records as deceased on or before the request date."""

    member: int
    occurred_on: date
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Divorce:
    """A member listed as the applicant's spouse whose latest 婚姻登记 by the request date,
    as 民政 records it, is a divorce."""

    member: int
    occurred_on: date
    evidence: Evidence


def in_force(start: date, end: date | None, day: date) -> bool:
    return start <= day and (end is None or day <= end)


def sorted_evidence(evidence: Iterable[Evidence]) -> tuple[Evidence, ...]:
    return tuple(sorted(set(evidence), key=lambda e: (e.member, e.source, e.record_id)))


@dataclass
class MemberRecords:
    """What one member's records show, read on the request date, with the records that
    show each fact."""

    grade: int | None = None
    ill: bool = False
    in_school: bool = False
    working: bool = False
    marital: tuple[date, CivilEvent, Evidence] | None = None
    """The latest marriage or divorce registration by the request date."""
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)

    def add(self, fact: str, ev: Evidence) -> None:
        self.evidence.setdefault(fact, []).append(ev)

    def of(self, fact: str) -> tuple[Evidence, ...]:
        return sorted_evidence(self.evidence.get(fact, ()))


def read_member(
    index: int, records: Sequence[Record], day: date
) -> tuple[MemberRecords, Death | None]:
    """The facts ``records`` show on ``day`` (the request date), and a death by then."""
    seen = MemberRecords()
    death: Death | None = None
    for r in records:
        if isinstance(r, DisabilityCertificateRecord):
            if in_force(r.issued_on, r.valid_until, day):
                seen.grade = r.grade if seen.grade is None else min(seen.grade, r.grade)
                seen.add("disability", Evidence.of(index, r.provenance))
        elif isinstance(r, DiagnosisRecord):
            if in_force(r.certified_on, r.valid_until, day):
                seen.ill = True
                seen.add("serious_illness", Evidence.of(index, r.provenance))
        elif isinstance(r, EnrolmentRecord):
            if in_force(r.period_start, r.period_end, day):
                seen.in_school = True
                seen.add("in_school", Evidence.of(index, r.provenance))
        elif isinstance(r, EmploymentRecord):
            # A registered unemployed person is able to work too: 失业登记 is for those who
            # can and want to work (《就业服务与就业管理规定》).
            if in_force(r.period_start, r.period_end, day):
                seen.working = True
                seen.add("employment", Evidence.of(index, r.provenance))
        elif (
            isinstance(r, CivilStatusRecord)
            and r.event is CivilEvent.DECEASED
            and r.occurred_on <= day
        ):
            ev = Evidence.of(index, r.provenance)
            seen.add("alive", ev)
            if death is None or r.occurred_on < death.occurred_on:
                death = Death(index, r.occurred_on, ev)
        elif isinstance(r, CivilStatusRecord) and r.occurred_on <= day:
            event = (r.occurred_on, r.event, Evidence.of(index, r.provenance))
            if seen.marital is None or event[0] > seen.marital[0]:
                seen.marital = event
    return seen, death


def expense_in_window(
    index: int, records: Sequence[Record], kind: DeductionKind, w: Window
) -> tuple[Fraction, list[Evidence]]:
    """The member's 刚性支出 of ``kind`` in window ``w`` (exact), and the records behind it:
    the self-paid part of 医保 bills, or the fees paid within 教育 enrolments."""
    total = Fraction(0)
    ev: list[Evidence] = []
    for r in records:
        if kind is DeductionKind.ILLNESS and isinstance(r, MedicalExpenseRecord):
            share = overlap_share(r.period_start, r.period_end, w)
            amount = r.self_paid_fen
        elif kind is DeductionKind.SCHOOLING and isinstance(r, EnrolmentRecord):
            share = overlap_share(r.period_start, r.period_end or w.end, w)
            amount = r.fees_paid_fen
        else:
            continue
        if share and amount:
            total += amount * share
            ev.append(Evidence.of(index, r.provenance))
    return total, ev


__all__ = [
    "Death",
    "Divorce",
    "MemberRecords",
    "expense_in_window",
    "in_force",
    "read_member",
    "sorted_evidence",
]
