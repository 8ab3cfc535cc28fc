"""户籍 events: a death (the registration cancelled, income ended), a birth, a member
moving out. See :mod:`hedui_sdk.sandbox.evolve`."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

from hedui_sdk import resident_id
from hedui_sdk.contract import IdType, SourceKind
from hedui_sdk.records import CancellationReason, CivilEvent
from hedui_sdk.sandbox.event_types import Birth, Death, FieldError, MemberMovedOut
from hedui_sdk.sandbox.evidence_facts import CivilFact, EmploymentFact, EnrolmentFact
from hedui_sdk.sandbox.evolve_base import EvolutionBase, half_up, month_starts, swap
from hedui_sdk.sandbox.facts import (
    ContributionFact,
    Fact,
    IncomeFact,
    RegisteredPerson,
    RegistrationFact,
)
from hedui_sdk.sandbox.names import given_name
from hedui_sdk.sandbox.numbering import month_end
from hedui_sdk.sandbox.people import Household, Person, Relation

_HR = SourceKind.HOUSEHOLD_REGISTRATION


class HukouEvents(EvolutionBase):
    """Applies deaths, births and members moving out."""

    def _death(self, event: Death) -> None:
        household = self._household(event.household, event.effective)
        person = self._member(household, event.member, event.effective)
        latest = self._state.latest.get((household.household_id, event.member))
        if latest is not None and latest > event.effective:
            raise FieldError("effective", "is before another event applied to this member")
        cutoff = month_end(event.effective) + timedelta(days=1)
        facts: dict[SourceKind, tuple[Fact, ...]] = {}
        for source, held in person.facts.items():
            if source is not _HR:
                facts[source] = tuple(f for f in (_until(f, cutoff) for f in held) if f is not None)
        registration = _registration_of(person)
        facts[_HR] = (
            RegistrationFact(
                self._record_id("HR", household.region),
                registration.household_number,
                registration.region_code,
                (_entry(registration, person),),
                cancelled_on=event.effective,
                cancel_reason=CancellationReason.DEATH,
            ),
        )
        # 殡葬/死亡登记: 民政 holds the death as a civil event of its own.
        facts[SourceKind.CIVIL_AFFAIRS] = (
            *facts.get(SourceKind.CIVIL_AFFAIRS, ()),
            CivilFact(
                self._record_id("CA", household.region), CivilEvent.DECEASED, event.effective
            ),
        )
        dead = replace(person, facts={s: f for s, f in facts.items() if f}, died_on=event.effective)
        household = _reregister(swap(household, person, dead), registration, leaving=person)
        self._done(household, event.member, event.effective)

    def _birth(self, event: Birth) -> None:
        household = self._household(event.household, event.effective)
        registration = household.registration
        if not registration.members:
            raise FieldError("household", "nobody is left on the household's 户籍")
        number = self._newborn_number(household.region, event.effective, male=event.male)
        rng = random.Random(f"hedui-sandbox-birth:{event.event_id}")  # noqa: S311 -- synthetic
        name = _family_name(household) + given_name(rng, male=event.male)
        entry = RegisteredPerson(IdType.RESIDENT_ID.value, number, name, event.relation.value)
        household = _reregister(household, registration, joining=entry)
        newborn = Person(
            id_type=IdType.RESIDENT_ID,
            id_number=number,
            name=name,
            male=event.male,
            born=event.effective,
            relation=Relation(event.relation.value),
            facts={_HR: (household.registration,)},
        )
        self._done(
            replace(household, outsiders=(*household.outsiders, newborn)), None, event.effective
        )

    def _newborn_number(self, region: str, born: date, *, male: bool) -> str:
        # The sequence's parity carries the sex (GB 11643): odd for a boy.
        for sequence in range(1 if male else 0, 1000, 2):
            number = resident_id.make(region, born, sequence)
            if number not in self._issued and self._base.lookup(IdType.RESIDENT_ID, number) is None:
                self._issued.add(number)
                return number
        raise FieldError("effective", "no resident ID number is left for this birth date")

    def _moved_out(self, event: MemberMovedOut) -> None:
        household = self._household(event.household, event.effective)
        person = self._member(household, event.member, event.effective)
        registration = _registration_of(person)
        if registration.record_id != household.registration.record_id:
            raise FieldError("member", "is not on the household's 户籍")
        own = RegistrationFact(
            self._record_id("HR", household.region),
            self._household_number(household.region),
            household.region,
            (replace(_entry(registration, person), relation=Relation.SELF.value),),
        )
        moved = replace(person, facts={**person.facts, _HR: (own,)})
        household = _reregister(swap(household, person, moved), registration, leaving=person)
        self._done(household, event.member, event.effective)


def _until(fact: Fact, cutoff: date) -> Fact | None:
    """What is left of a record when everything from ``cutoff`` (a month's first day) on
    is gone: income keeps its months before, contributions starting later go."""
    if isinstance(fact, IncomeFact):
        months = month_starts(fact.period_start, fact.period_end)
        kept = sum(1 for m in months if m < cutoff)
        if kept == len(months):
            return fact
        amount = half_up(fact.amount_fen * kept, len(months))
        return replace(fact, amount_fen=amount) if amount != 0 else None
    if isinstance(fact, ContributionFact):
        return fact if fact.period_start < cutoff else None
    if isinstance(fact, EnrolmentFact | EmploymentFact):
        # A school place or a job held open ends with the month of the death.
        if fact.period_start >= cutoff:
            return None
        if fact.period_end is None or fact.period_end >= cutoff:
            return replace(fact, period_end=cutoff - timedelta(days=1))
    return fact


def _registration_of(person: Person) -> RegistrationFact:
    for fact in person.facts_for(_HR):
        if isinstance(fact, RegistrationFact) and fact.cancelled_on is None:
            return fact
    raise FieldError("member", "has no household registration in force")


def _entry(registration: RegistrationFact, person: Person) -> RegisteredPerson:
    for entry in registration.members:
        if entry.id_type == person.id_type.value and entry.id_number == person.id_number:
            return entry
    return RegisteredPerson(person.id_type.value, person.id_number, person.name, "self")


def _reregister(
    household: Household,
    registration: RegistrationFact,
    *,
    leaving: Person | None = None,
    joining: RegisteredPerson | None = None,
) -> Household:
    """The household with ``registration`` reissued without ``leaving`` or with
    ``joining``, for everyone who holds it."""
    entries = tuple(
        e
        for e in registration.members
        if leaving is None or (e.id_type, e.id_number) != (leaving.id_type.value, leaving.id_number)
    )
    reissued = replace(registration, members=(*entries, *(() if joining is None else (joining,))))

    def holder(person: Person) -> Person:
        held = person.facts_for(_HR)
        if len(held) == 1 and held[0] == registration:
            return replace(person, facts={**person.facts, _HR: (reissued,)})
        return person

    return replace(
        household,
        members=tuple(holder(p) for p in household.members),
        outsiders=tuple(holder(p) for p in household.outsiders),
        registration=(
            reissued if household.registration == registration else household.registration
        ),
    )


def _family_name(household: Household) -> str:
    """A newborn's family name: that of the household's children if it has any, else
    the father's (the generator's rule)."""
    for person in household.members:
        if person.relation is Relation.CHILD:
            return person.name[0]
    applicant = household.applicant
    if not applicant.male:
        for person in household.members:
            if person.relation is Relation.SPOUSE:
                return person.name[0]
    return applicant.name[0]
