"""Facts about members taken from the departments that know them, instead of the case file.

The case file declares each member's circumstances (disability grade, serious illness,
schooling, ability to work) and the family's 刚性支出; 残联, 医保, 教育, 人社 and 民政 hold
the same facts. For each fact and member this module says what was declared, what the
department answered and which the rules use (the :class:`Basis`):

- the department answered (FOUND or NOT_FOUND) and its answer bears on the fact: its
  answer is the fact (``verified``). Every answer bears on the facts whose absence is
  itself a finding (no certificate is grade 0); for ability to work only a registration
  does, since having none shows nothing either way;
- it did not answer (FAILED, DENIED, PENDING, or it was not asked) or its answer shows
  nothing about the fact, and the region accepts the declaration for that fact
  (``fact_basis_<fact> = "declared"``, or no basis stated): the declaration is used and
  the report says so (``declared``);
- the same, and the region requires the fact verified: the declaration is still what
  the figures use, but every rule resting on it goes to review (``unverified``).

A declaration "rests on" a fact only where it says something in the family's favour (a
grade, an illness, schooling, inability to work, an expense, a living member): a
declared absence gives the family nothing, so it never waits for a department.

Facts are read on the request date (:mod:`verifier.policy.fact_records`). A certified
diagnosis in force, 重特大疾病 or 门诊慢特病, makes a member seriously ill: 医保 certifies a
门诊慢特病 only for the long, costly conditions medical assistance covers, and a
difference listed against a family is an accusation not to be made on a narrower reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from hedui_sdk import (
    CivilEvent,
    SourceKind,
)
from verifier.domain.household import DeductionKind
from verifier.domain.money import half_up
from verifier.domain.outcomes import SourceStatus
from verifier.policy.aggregate import Evidence
from verifier.policy.fact_records import (
    Death,
    Divorce,
    MemberRecords,
    expense_in_window,
    read_member,
    sorted_evidence,
)
from verifier.policy.findings import JsonScalar
from verifier.policy.inputs import AssessmentInput, Deduction, Member
from verifier.policy.snapshot import Snapshot
from verifier.policy.specs import FACTS, P

FACT_SOURCES: Mapping[str, SourceKind] = {
    "disability": SourceKind.DISABILITY,
    "serious_illness": SourceKind.MEDICAL_INSURANCE,
    "in_school": SourceKind.EDUCATION,
    "employment": SourceKind.EMPLOYMENT,
    "alive": SourceKind.CIVIL_AFFAIRS,
    "medical_costs": SourceKind.MEDICAL_INSURANCE,
    "school_fees": SourceKind.EDUCATION,
}
"""The department that answers for each fact."""

EXPENSE_FACTS: Mapping[str, DeductionKind] = {
    "medical_costs": DeductionKind.ILLNESS,
    "school_fees": DeductionKind.SCHOOLING,
}
"""The household-level facts: the 刚性支出 a department's records show."""

MEMBER_FACTS: tuple[str, ...] = tuple(f for f in FACTS if f not in EXPENSE_FACTS)


class Basis(StrEnum):
    VERIFIED = "verified"
    """The department answered: its answer is the fact."""
    DECLARED = "declared"
    """The department did not answer; the region accepts the declaration."""
    UNVERIFIED = "unverified"
    """The department did not answer and the region requires it: rules resting on the
    declaration go to review."""


@dataclass(frozen=True)
class FactFinding:
    """One fact of one member (``member`` None: the household's 刚性支出 of a kind).

    ``status`` is the department's answer (``ABSENT`` when it was not asked); for a
    household fact, the first non-answer among the members, else FOUND or NOT_FOUND.
    ``declared`` and ``found`` are the values compared (a grade, a flag, fen); ``relied``
    says whether the declaration gives the family something that rests on this fact.
    """

    fact: str
    member: int | None
    basis: Basis
    source: str
    status: str
    declared: JsonScalar
    found: JsonScalar
    relied: bool
    evidence: tuple[Evidence, ...] = ()

    @property
    def differs(self) -> bool:
        return self.basis is Basis.VERIFIED and self.declared != self.found

    def to_json(self) -> dict[str, object]:
        return {
            "fact": self.fact,
            "member": self.member,
            "basis": self.basis.value,
            "source": self.source,
            "status": self.status,
            "declared": self.declared,
            "found": self.found,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True)
class Facts:
    """What the rules use: members and deductions as verified, and how each fact was known."""

    findings: tuple[FactFinding, ...] = ()
    declared_deductions: tuple[Deduction, ...] = ()
    deaths: tuple[Death, ...] = ()
    divorces: tuple[Divorce, ...] = ()
    """Members listed as the spouse whose latest 婚姻登记 is a divorce (民政 answered)."""

    def unverified(self, facts: Iterable[str], member: int | None = None) -> list[FactFinding]:
        """Findings of ``facts`` whose rules go to review (of ``member``, or everyone's)."""
        wanted = set(facts)
        return [
            f
            for f in self.findings
            if f.fact in wanted
            and f.basis is Basis.UNVERIFIED
            and f.relied
            and (member is None or f.member is None or f.member == member)
        ]

    def to_json(self) -> dict[str, object]:
        return {
            "findings": [f.to_json() for f in self.findings],
            "declared_deduction_items": [
                {
                    "kind": d.kind.value,
                    "amount_fen": d.amount_fen,
                    "evidence": d.evidence,
                    "member": d.member_index,
                }
                for d in self.declared_deductions
            ],
            "deaths": [
                {
                    "member": d.member,
                    "occurred_on": d.occurred_on.isoformat(),
                    "evidence": d.evidence.to_json(),
                }
                for d in self.deaths
            ],
            "divorces": [
                {
                    "member": d.member,
                    "occurred_on": d.occurred_on.isoformat(),
                    "evidence": d.evidence.to_json(),
                }
                for d in self.divorces
            ],
        }


def _status(inp: AssessmentInput, member: int, source: SourceKind) -> str:
    st = inp.sources.get(member, {}).get(source)
    return "ABSENT" if st is None else SourceStatus(st).value


def _answered(status: str) -> bool:
    return status in (SourceStatus.FOUND.value, SourceStatus.NOT_FOUND.value)


def _basis(snap: Snapshot, fact: str, answered: bool) -> Basis:
    if answered:
        return Basis.VERIFIED
    return Basis.UNVERIFIED if snap.find(P.fact_basis[fact]) == "verified" else Basis.DECLARED


def _member_findings(
    inp: AssessmentInput, snap: Snapshot, m: Member, seen: MemberRecords, death: Death | None
) -> tuple[Member, list[FactFinding]]:
    def finding(fact: str, declared: JsonScalar, found: JsonScalar, relied: bool) -> FactFinding:
        source = FACT_SOURCES[fact]
        status = _status(inp, m.index, source)
        known = _answered(status) and found is not None
        return FactFinding(
            fact,
            m.index,
            _basis(snap, fact, known),
            source.value,
            status,
            declared,
            found if known else None,
            relied,
            seen.of(fact),
        )

    out = [
        # Grade 0 stands for none, as on the wire.
        finding(
            "disability", m.disability_grade or 0, seen.grade or 0, m.disability_grade is not None
        ),
        finding("serious_illness", m.serious_illness, seen.ill, m.serious_illness),
        finding("in_school", m.in_school, seen.in_school, m.in_school),
        # Declared "unable to work" is compared with a current employment or unemployment
        # registration (found True); no registration shows nothing either way (None).
        finding(
            "employment",
            m.able_to_work,
            True if seen.working else None,
            m.able_to_work is False,
        ),
        finding("alive", True, death is None, True),
    ]
    effective = m
    for f in out:
        if f.basis is not Basis.VERIFIED:
            continue
        if f.fact == "disability":
            effective = replace(effective, disability_grade=seen.grade)
        elif f.fact == "serious_illness":
            effective = replace(effective, serious_illness=seen.ill)
        elif f.fact == "in_school":
            effective = replace(effective, in_school=seen.in_school)
        elif f.fact == "employment" and seen.working:
            effective = replace(effective, able_to_work=True)
    return effective, out


def _expense_finding(
    inp: AssessmentInput, snap: Snapshot, fact: str, kind: DeductionKind
) -> tuple[FactFinding, tuple[Deduction, ...] | None]:
    """The household's 刚性支出 of ``kind``: the finding, and the deductions found (None when
    the department did not answer for every member, so the declared ones stand)."""
    source = FACT_SOURCES[fact]
    w = inp.assessment_window
    members = sorted(inp.members, key=lambda m: m.index)
    statuses = [_status(inp, m.index, source) for m in members]
    not_answered = [s for s in statuses if not _answered(s)]
    declared = sum(d.amount_fen for d in inp.deductions if d.kind is kind)
    found_items: list[Deduction] = []
    evidence: list[Evidence] = []
    for m in members:
        exact, ev = expense_in_window(m.index, inp.records.get(m.index, ()), kind, w)
        amount = half_up(exact)
        evidence += ev
        if amount:
            refs = ",".join(e.record_id for e in sorted_evidence(ev))
            found_items.append(Deduction(kind, amount, f"{source.value}:{refs}", m.index))
    complete = not not_answered
    found = sum(d.amount_fen for d in found_items)
    if not_answered:
        status = not_answered[0]
    else:
        status = SourceStatus.FOUND.value if evidence else SourceStatus.NOT_FOUND.value
    finding = FactFinding(
        fact,
        None,
        _basis(snap, fact, complete),
        source.value,
        status,
        declared,
        found if complete else None,
        declared > 0,
        sorted_evidence(evidence),
    )
    return finding, tuple(found_items) if complete else None


def resolve_facts(inp: AssessmentInput, snap: Snapshot) -> tuple[AssessmentInput, Facts]:
    """``inp`` with members and 刚性支出 as the departments answered, and how each was known."""
    findings: list[FactFinding] = []
    members: list[Member] = []
    deaths: list[Death] = []
    divorces: list[Divorce] = []
    for m in sorted(inp.members, key=lambda m: m.index):
        seen, death = read_member(m.index, inp.records.get(m.index, ()), inp.request_date)
        effective, out = _member_findings(inp, snap, m, seen, death)
        members.append(effective)
        findings += out
        if death is not None:
            deaths.append(death)
        if m.relation == "spouse" and seen.marital and seen.marital[1] is CivilEvent.DIVORCED:
            divorces.append(Divorce(m.index, seen.marital[0], seen.marital[2]))
    deductions = list(inp.deductions)
    for fact, kind in EXPENSE_FACTS.items():
        finding, found = _expense_finding(inp, snap, fact, kind)
        findings.append(finding)
        if found is not None:
            deductions = [d for d in deductions if d.kind is not kind] + list(found)
    declared = tuple(
        sorted(
            (d for d in inp.deductions if d.kind in EXPENSE_FACTS.values()),
            key=lambda d: (
                d.kind.value,
                d.member_index is not None,
                d.member_index or 0,
                d.amount_fen,
                d.evidence,
            ),
        )
    )
    effective_inp = replace(inp, members=tuple(members), deductions=tuple(deductions))
    return effective_inp, Facts(tuple(findings), declared, tuple(deaths), tuple(divorces))


__all__ = [
    "EXPENSE_FACTS",
    "FACT_SOURCES",
    "MEMBER_FACTS",
    "Basis",
    "Death",
    "Divorce",
    "FactFinding",
    "Facts",
    "resolve_facts",
]
