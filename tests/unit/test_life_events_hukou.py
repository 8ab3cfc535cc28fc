"""户籍 events (death, birth, moving out) change exactly what they should, and every changed
record still decodes with the reference adapter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hedui_sdk import IdType, SourceKind, resident_id
from hedui_sdk.builtin.decoding import Origin, decode_final
from hedui_sdk.records import HouseholdRegistrationRecord
from hedui_sdk.sandbox import (
    Birth,
    Death,
    DepositChange,
    IncomeChange,
    IncomeStream,
    MemberMovedOut,
    NewbornRelation,
    NewBusinessRegistration,
    NewProperty,
    NewVehicle,
    Person,
    PropertyKind,
    VehicleKind,
)
from hedui_sdk.sandbox.events import BusinessKind
from hedui_sdk.sandbox.facts import RegistrationFact
from hedui_sdk.sandbox.timeline import Timeline
from hedui_sdk.sandbox.wire import encode_fact, found
from tests.life_events_helpers import (
    AS_OF,
    JUNE,
    after,
    apply,
    assert_others_untouched,
    changed,
    common,
    consistent_household,
    household_where,
    incomes,
    is_pension,
    people,
    population,
    refusal,
)

# -- 户籍 -----------------------------------------------------------------------------------


def registration_of(person: Person) -> RegistrationFact:
    (fact,) = person.facts_for(SourceKind.HOUSEHOLD_REGISTRATION)
    assert isinstance(fact, RegistrationFact)
    return fact


def registered_numbers(fact: RegistrationFact) -> list[str]:
    return [m.id_number for m in fact.members]


def test_death_cancels_the_member_s_registration_and_ends_their_income() -> None:
    household = consistent_household()
    m = next(
        i
        for i, p in enumerate(household.members)
        if i > 0 and incomes(p, SourceKind.SOCIAL_INSURANCE, is_pension)
    )
    person = household.members[m]
    died = date(AS_OF.year, 8, 20)
    _, pop = apply(Death(**common(household, died), member=m))
    new_household = after(pop, household)
    dead = new_household.members[m]

    others_on_hukou = {f"m{i}" for i in range(len(household.members)) if i != m}
    expected = {(who, "household_registration") for who in others_on_hukou | {f"m{m}"}}
    person_sources = {
        (f"m{m}", s.value) for s in SourceKind if s is not SourceKind.HOUSEHOLD_REGISTRATION
    }
    assert expected <= changed(household, new_household) <= expected | person_sources
    assert dead.died_on == died
    cancelled = registration_of(dead)
    assert cancelled.cancelled_on == died
    assert cancelled.cancel_reason == "death"
    assert registered_numbers(cancelled) == [person.id_number]
    assert encode_fact(cancelled)["status"] == "cancelled"
    for i, other in enumerate(new_household.members):
        if i != m:
            assert registered_numbers(registration_of(other)) == [
                n for n in registered_numbers(household.registration) if n != person.id_number
            ]
    assert registration_of(new_household.members[0]) == new_household.registration
    pension_months = [
        f.period_start.month for f in incomes(dead, SourceKind.SOCIAL_INSURANCE, is_pension)
    ]
    assert pension_months == list(range(1, 9))  # paid for the month of death, not after
    for source in (SourceKind.BANK, SourceKind.VEHICLE, SourceKind.REAL_ESTATE):
        assert dead.facts_for(source) == person.facts_for(source)  # the estate remains
    assert pop.lookup(IdType.RESIDENT_ID, person.id_number) is dead
    assert_others_untouched(pop, household)


def test_no_event_applies_to_a_member_after_their_death_and_a_death_cannot_precede_one() -> None:
    household = consistent_household()
    timeline, _ = apply(Death(**common(household, date(AS_OF.year, 8, 20)), member=1))
    later = NewVehicle(
        **common(household, JUNE, "ev-2"), member=1, kind=VehicleKind.CAR, value_fen=1
    )
    assert refusal(timeline, later).violations[0].field == "events[0].member"

    timeline = Timeline(population())
    timeline.apply(
        [
            NewVehicle(
                **common(household, date(AS_OF.year, 9, 1)),
                member=2,
                kind=VehicleKind.CAR,
                value_fen=1,
            )
        ]
    )
    earlier_death = Death(**common(household, date(AS_OF.year, 8, 1), "ev-2"), member=2)
    assert refusal(timeline, earlier_death).violations[0].field == "events[0].effective"


def test_birth_adds_a_registered_child_with_a_valid_synthetic_id() -> None:
    household = consistent_household()
    born = date(AS_OF.year, 9, 9)
    _, pop = apply(
        Birth(**common(household, born), male=False, relation=NewbornRelation.GRANDCHILD)
    )
    new_household = after(pop, household)
    (child,) = new_household.outsiders[len(household.outsiders) :]
    number = child.id_number
    assert resident_id.problems(number, today=AS_OF) == []
    assert resident_id.birth_date(number) == born
    assert number[:6] == household.region
    assert int(number[16]) % 2 == 0  # a girl
    assert child.born == born
    assert child.relation.value == "grandchild"
    assert pop.lookup(IdType.RESIDENT_ID, number) is child
    assert pop.household_of(child) is new_household
    assert population().lookup(IdType.RESIDENT_ID, number) is None
    registration = new_household.registration
    assert registered_numbers(registration) == [*registered_numbers(household.registration), number]
    assert registration.members[-1].relation == "grandchild"
    assert registration.record_id == household.registration.record_id
    for _, person in people(new_household):
        assert registration_of(person) == registration
    assert changed(household, new_household) == {
        (f"m{i}", "household_registration") for i in range(len(household.members))
    } | {(f"o{len(household.outsiders)}", "household_registration")}
    assert_others_untouched(pop, household)


def test_births_get_distinct_numbers_even_on_the_same_day() -> None:
    household = consistent_household()
    other = household_where(lambda h: h.region == household.region and h is not household)
    born = date(AS_OF.year, 3, 3)
    _, pop = apply(
        Birth(**common(household, born), male=True),
        Birth(**common(household, born, "ev-2"), male=True),
        Birth(**common(other, born, "ev-3"), male=True),
    )
    numbers = [p.outsiders[-1].id_number for p in (after(pop, household), after(pop, other))]
    numbers.append(after(pop, household).outsiders[-2].id_number)
    assert len(set(numbers)) == 3
    assert all(resident_id.problems(n, today=AS_OF) == [] and int(n[16]) % 2 == 1 for n in numbers)


def test_moving_out_takes_the_member_off_the_household_s_registration_onto_their_own() -> None:
    household = consistent_household()
    m = 2
    person = household.members[m]
    _, pop = apply(MemberMovedOut(**common(household, JUNE), member=m))
    new_household = after(pop, household)
    assert changed(household, new_household) == {
        (f"m{i}", "household_registration") for i in range(len(household.members))
    }
    own = registration_of(new_household.members[m])
    assert own.household_number != household.registration.household_number
    assert [(e.id_number, e.relation) for e in own.members] == [(person.id_number, "self")]
    assert own.cancelled_on is None
    assert person.id_number not in registered_numbers(new_household.registration)
    assert new_household.members[m].facts_for(SourceKind.TAX) == person.facts_for(SourceKind.TAX)


def test_moving_out_someone_not_on_the_household_s_registration_is_refused() -> None:
    household = consistent_household()
    timeline, _ = apply(MemberMovedOut(**common(household, JUNE), member=2))
    again = MemberMovedOut(**common(household, JUNE, "ev-2"), member=2)
    assert refusal(timeline, again).violations[0].field == "events[0].member"


# -- what the department sends --------------------------------------------------------------


def test_every_changed_record_decodes_with_the_reference_adapter() -> None:
    household = consistent_household()
    _, pop = apply(
        IncomeChange(
            **common(household, JUNE, "a"), member=0, stream=IncomeStream.WAGES, amount_fen=250_000
        ),
        NewVehicle(
            **common(household, JUNE, "b"), member=0, kind=VehicleKind.TRUCK, value_fen=9_000_000
        ),
        NewProperty(
            **common(household, JUNE, "c"),
            member=0,
            kind=PropertyKind.RURAL_HOUSE,
            area_m2=Decimal("120"),
            value_fen=1,
        ),
        NewBusinessRegistration(
            **common(household, JUNE, "d"),
            member=0,
            kind=BusinessKind.LIMITED_COMPANY,
            capital_fen=1,
        ),
        DepositChange(**common(household, JUNE, "e"), member=0, balance_fen=0),
        Death(**common(household, JUNE, "f"), member=1),
        Birth(**common(household, JUNE, "g"), male=True),
        MemberMovedOut(**common(household, JUNE, "h"), member=2),
    )
    as_of = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 15, 59, 59, tzinfo=UTC)
    decoded = 0
    for _, person in people(after(pop, household)):
        for source in SourceKind:
            facts = person.facts_for(source)
            if facts:
                result = decode_final(found(facts, as_of), Origin(source.value, "test", "0"))
                decoded += len(result.records)
                for record in result.records:
                    if isinstance(record, HouseholdRegistrationRecord):
                        assert record.members
    assert decoded > 20
