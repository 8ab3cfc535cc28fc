"""The sandbox's 医保, 残联, 教育, 人社 就业 and 民政 departments agree with what the rest of
the population says: a disabled member has a certificate of their grade, a seriously ill
one a certified diagnosis, pupils are enrolled, wage earners registered as employed, the
unemployed paid benefit registered as unemployed, couples married on the same day, and a
death is registered by 民政 while 户籍 is cancelled and open school places and jobs end."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TypeVar

import pytest

from hedui_sdk import (
    CivilEvent,
    DiagnosisKind,
    EducationLevel,
    EmploymentStatus,
    SourceKind,
)
from hedui_sdk.builtin.decoding import Origin, decode_final
from hedui_sdk.sandbox import Death, generate_population
from hedui_sdk.sandbox.evidence_facts import (
    CivilFact,
    DiagnosisFact,
    DisabilityFact,
    EmploymentFact,
    EnrolmentFact,
    MedicalExpenseFact,
)
from hedui_sdk.sandbox.facts import IncomeFact, RegistrationFact
from hedui_sdk.sandbox.people import Person, Relation
from hedui_sdk.sandbox.wire import found
from hedui_sdk.validation import record_problems
from tests.life_events_helpers import (
    AS_OF,
    after,
    apply,
    assert_others_untouched,
    common,
    member_where,
    population,
)

EVIDENCE = (
    SourceKind.MEDICAL_INSURANCE,
    SourceKind.DISABILITY,
    SourceKind.EDUCATION,
    SourceKind.EMPLOYMENT,
    SourceKind.CIVIL_AFFAIRS,
)


T = TypeVar("T")


def _of(person: Person, source: SourceKind, kind: type[T]) -> list[T]:
    return [f for f in person.facts_for(source) if isinstance(f, kind)]


def test_a_disabled_member_and_only_they_hold_a_certificate_of_their_grade() -> None:
    disabled = 0
    for person in population().persons():
        certificates = _of(person, SourceKind.DISABILITY, DisabilityFact)
        if person.disability_grade is None:
            assert certificates == []
            continue
        disabled += 1
        (certificate,) = certificates
        assert certificate.grade == person.disability_grade
        assert certificate.issued_on <= AS_OF
        assert certificate.valid_until is not None and certificate.valid_until > AS_OF
    assert disabled > 0


def test_a_seriously_ill_member_has_a_certified_diagnosis_and_bills_with_their_own_share() -> None:
    ill = 0
    for person in population().persons():
        diagnoses = _of(person, SourceKind.MEDICAL_INSURANCE, DiagnosisFact)
        bills = _of(person, SourceKind.MEDICAL_INSURANCE, MedicalExpenseFact)
        for bill in bills:
            assert bill.fund_paid_fen + bill.self_paid_fen == bill.total_fen
            assert 0 < bill.self_paid_fen < bill.total_fen
            assert bill.period_start <= bill.period_end <= AS_OF
        if not person.serious_illness:
            assert diagnoses == []
            continue
        ill += 1
        (diagnosis,) = diagnoses
        assert diagnosis.kind in set(DiagnosisKind)
        assert any(b.kind == "inpatient" for b in bills)
    assert ill > 0


def test_children_of_school_age_are_enrolled_at_their_level_this_school_year() -> None:
    pupils = 0
    for person in population().persons():
        age = person.age_on(AS_OF)
        enrolments = _of(person, SourceKind.EDUCATION, EnrolmentFact)
        if age >= 30:
            assert enrolments == []
        if not 6 <= age <= 14 or person.died_on is not None:
            continue
        pupils += 1
        (current,) = [e for e in enrolments if e.period_end is None]
        level = EducationLevel.PRIMARY if age <= 11 else EducationLevel.JUNIOR_SECONDARY
        assert current.level is level
        assert current.period_start == date(AS_OF.year, 9, 1)
        assert current.fees_paid_fen >= 0
    assert pupils > 0


def test_wages_mean_an_employment_registration_and_benefit_an_unemployment_one() -> None:
    employed = unemployed = 0
    for person in population().persons():
        payers = {
            f.payer
            for f in _of(person, SourceKind.TAX, IncomeFact)
            if f.kind == "salary" and f.payer
        }
        benefit = [
            f
            for f in _of(person, SourceKind.SOCIAL_INSURANCE, IncomeFact)
            if f.kind == "unemployment_benefit"
        ]
        registrations = _of(person, SourceKind.EMPLOYMENT, EmploymentFact)
        jobs = {r.employer for r in registrations if r.status is EmploymentStatus.EMPLOYED}
        assert jobs == payers
        out_of_work = [
            r for r in registrations if r.status is EmploymentStatus.UNEMPLOYED_REGISTERED
        ]
        assert len(out_of_work) == (1 if benefit else 0)
        if benefit:
            assert out_of_work[0].period_start == min(f.period_start for f in benefit)
            assert out_of_work[0].employer == ""
        employed += bool(payers)
        unemployed += bool(benefit)
    assert employed > 0 and unemployed > 0


def test_a_couple_is_married_on_the_same_day() -> None:
    couples = 0
    for household in population().all_households:
        spouse = next((p for p in household.members if p.relation is Relation.SPOUSE), None)
        if spouse is None:
            continue
        mine = _of(household.members[0], SourceKind.CIVIL_AFFAIRS, CivilFact)
        theirs = _of(spouse, SourceKind.CIVIL_AFFAIRS, CivilFact)
        assert [(c.event, c.occurred_on) for c in mine] == [
            (c.event, c.occurred_on) for c in theirs
        ]
        assert mine[0].event is CivilEvent.MARRIED and mine[0].occurred_on <= AS_OF
        couples += 1
    assert couples > 0


def test_every_evidence_fact_decodes_into_a_record_that_keeps_the_contract() -> None:
    as_of = population().as_of
    for person in list(population().persons())[:400]:
        for source in EVIDENCE:
            facts = person.facts_for(source)
            if not facts:
                continue
            body = found(facts, datetime(as_of.year, 12, 31, tzinfo=UTC))
            result = decode_final(body, Origin(source.value, f"{source.value}-gateway", "1.0.0"))
            for record in result.records:
                assert record_problems(record, source.value) == []


def test_a_death_is_registered_by_civil_affairs_and_ends_open_school_places_and_jobs() -> None:
    household, m = member_where(
        lambda p: any(r.period_end is None for r in _of(p, SourceKind.EMPLOYMENT, EmploymentFact))
    )
    died = date(AS_OF.year, 8, 20)
    _, pop = apply(Death(**common(household, died), member=m))
    dead = after(pop, household).members[m]
    deaths = [
        c for c in _of(dead, SourceKind.CIVIL_AFFAIRS, CivilFact) if c.event is CivilEvent.DECEASED
    ]
    assert [c.occurred_on for c in deaths] == [died]
    (registration,) = _of(dead, SourceKind.HOUSEHOLD_REGISTRATION, RegistrationFact)
    assert registration.cancelled_on == died
    for job in _of(dead, SourceKind.EMPLOYMENT, EmploymentFact):
        assert job.period_end is not None and job.period_end <= date(AS_OF.year, 8, 31)
    assert_others_untouched(pop, household)


@pytest.mark.parametrize("as_of", [date(2024, 2, 29), date(2026, 10, 31), date(2025, 3, 1)])
def test_certificates_and_diagnoses_date_from_after_birth_on_any_reference_day(
    as_of: date,
) -> None:
    certified = 0
    pop = generate_population(3, households_per_county=60, as_of=as_of)
    for person in pop.persons():
        certificates = _of(person, SourceKind.DISABILITY, DisabilityFact)
        diagnoses = _of(person, SourceKind.MEDICAL_INSURANCE, DiagnosisFact)
        spans = [(c.issued_on, c.valid_until) for c in certificates]
        spans += [(d.certified_on, d.valid_until) for d in diagnoses]
        for issued, valid_until in spans:
            assert person.born <= issued <= as_of
            assert valid_until is None or valid_until > as_of
        certified += len(spans)
    assert certified > 0
