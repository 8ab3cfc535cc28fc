"""Life events change exactly what they should at each department, and nothing else.

Each test takes one sandbox household, applies one event, and compares what every
department holds on every person before and after. People are named by their place in
the household (``m0`` is the applicant, ``o0`` the first outsider), never by ID number.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hedui_sdk import IdType, SourceKind, resident_id
from hedui_sdk.builtin.decoding import Origin, decode_final
from hedui_sdk.records import AssetCategory, HouseholdRegistrationRecord, IncomeCategory
from hedui_sdk.sandbox import (
    Birth,
    Death,
    DepositChange,
    EventsRefused,
    Household,
    IncomeChange,
    IncomeStream,
    LifeEvent,
    MemberMovedOut,
    NewbornRelation,
    NewBusinessRegistration,
    NewProperty,
    NewVehicle,
    Person,
    Population,
    PropertyKind,
    VehicleKind,
    generate_population,
    parse_events,
)
from hedui_sdk.sandbox.events import BusinessKind, FieldError
from hedui_sdk.sandbox.facts import (
    AssetFact,
    ContributionFact,
    Fact,
    IncomeFact,
    RegistrationFact,
    overlaps,
)
from hedui_sdk.sandbox.timeline import Timeline
from hedui_sdk.sandbox.wire import encode_fact, found

SEED = 5
PER_COUNTY = 40

Snapshot = dict[tuple[str, SourceKind], list[dict[str, Any]]]


@functools.cache
def population() -> Population:
    return generate_population(SEED, households_per_county=PER_COUNTY)


def people(household: Household) -> list[tuple[str, Person]]:
    return [(f"m{i}", p) for i, p in enumerate(household.members)] + [
        (f"o{i}", p) for i, p in enumerate(household.outsiders)
    ]


def snapshot(household: Household) -> Snapshot:
    """Every record every department holds on every person, as it goes on the wire."""
    return {
        (who, source): [encode_fact(f) for f in person.facts_for(source)]
        for who, person in people(household)
        for source in SourceKind
    }


def changed(before: Household, after: Household) -> set[tuple[str, str]]:
    old, new = snapshot(before), snapshot(after)
    return {
        (who, s.value)
        for (who, s) in old.keys() | new.keys()
        if old.get((who, s), []) != new.get((who, s), [])
    }


def household_where(test: Callable[[Household], bool]) -> Household:
    for household in population().all_households:
        if test(household):
            return household
    raise LookupError("no household fits")  # pragma: no cover


def member_where(test: Callable[[Person], bool]) -> tuple[Household, int]:
    for household in population().all_households:
        for index, person in enumerate(household.members):
            if person.died_on is None and test(person):
                return household, index
    raise LookupError("nobody fits")  # pragma: no cover


def incomes(
    person: Person, source: SourceKind, test: Callable[[IncomeFact], bool]
) -> list[IncomeFact]:
    return [f for f in person.facts_for(source) if isinstance(f, IncomeFact) and test(f)]


def is_salary(f: IncomeFact) -> bool:
    return f.category is IncomeCategory.WAGES and f.kind == "salary"


def is_pension(f: IncomeFact) -> bool:
    return f.kind in ("basic_pension", "resident_basic_pension")


def is_business(f: IncomeFact) -> bool:
    return f.category is IncomeCategory.BUSINESS


def has_monthly_salary(p: Person) -> bool:
    return len(incomes(p, SourceKind.TAX, is_salary)) == 12


def apply(*events: LifeEvent) -> tuple[Timeline, Population]:
    timeline = Timeline(population())
    timeline.apply(list(events))
    return timeline, timeline.population


def after(pop: Population, household: Household) -> Household:
    found_again = pop.household(household.household_id)
    assert found_again is not None
    return found_again


def assert_others_untouched(pop: Population, household: Household) -> None:
    """Every other household is the very same object, and serializes the same."""
    seed = population()
    for old, new in zip(seed.all_households, pop.all_households, strict=True):
        if old.household_id != household.household_id:
            assert new is old, old.household_id
    assert seed.household(household.household_id) is household


def common(household: Household, effective: date, event_id: str = "ev-1") -> dict[str, Any]:
    return {"event_id": event_id, "household": household.household_id, "effective": effective}


def refusal(timeline: Timeline, *events: LifeEvent) -> EventsRefused:
    with pytest.raises(EventsRefused) as caught:
        timeline.apply(list(events))
    return caught.value


AS_OF = population().as_of
JUNE = date(AS_OF.year, 6, 15)


# -- income --------------------------------------------------------------------------------


def test_wages_set_to_an_amount_from_a_month_change_tax_and_contributions_only() -> None:
    household, m = member_where(has_monthly_salary)
    person = household.members[m]
    event = IncomeChange(
        **common(household, JUNE), member=m, stream=IncomeStream.WAGES, amount_fen=612_345
    )
    _, pop = apply(event)
    new_household = after(pop, household)
    new = new_household.members[m]

    allowed = {(f"m{m}", "tax"), (f"m{m}", "social_insurance"), (f"m{m}", "provident_fund")}
    assert changed(household, new_household) <= allowed
    assert (f"m{m}", "tax") in changed(household, new_household)
    old_salary = incomes(person, SourceKind.TAX, is_salary)
    new_salary = incomes(new, SourceKind.TAX, is_salary)
    assert [f.record_id for f in new_salary] == [f.record_id for f in old_salary]
    for old_fact, new_fact in zip(old_salary, new_salary, strict=True):
        if old_fact.period_start < date(AS_OF.year, 6, 1):
            assert new_fact == old_fact
        else:
            assert new_fact.amount_fen == 612_345
            assert type(new_fact.amount_fen) is int
    contributions = [
        f
        for f in new.facts_for(SourceKind.SOCIAL_INSURANCE)
        if isinstance(f, ContributionFact) and f.scheme == "employee_pension"
    ]
    june_on = [f for f in contributions if f.period_start >= date(AS_OF.year, 6, 1)]
    assert june_on
    assert all(f.base_fen == 612_345 and f.paid_fen == 612_345 * 240 // 1000 for f in june_on)
    before_june = [
        f
        for f in person.facts_for(SourceKind.SOCIAL_INSURANCE)
        if isinstance(f, ContributionFact) and f.period_start < date(AS_OF.year, 6, 1)
    ]
    assert all(f in new.facts_for(SourceKind.SOCIAL_INSURANCE) for f in before_june)
    assert_others_untouched(pop, household)


def test_wages_moved_by_a_delta_keep_each_month_s_own_amount() -> None:
    household, m = member_where(has_monthly_salary)
    person = household.members[m]
    event = IncomeChange(
        **common(household, JUNE), member=m, stream=IncomeStream.WAGES, delta_fen=-5_000
    )
    _, pop = apply(event)
    new = after(pop, household).members[m]
    for old_fact, new_fact in zip(
        incomes(person, SourceKind.TAX, is_salary),
        incomes(new, SourceKind.TAX, is_salary),
        strict=True,
    ):
        moved = 0 if old_fact.period_start.month < 6 else -5_000
        assert new_fact.amount_fen == old_fact.amount_fen + moved


def test_wages_to_zero_end_the_job_from_that_month() -> None:
    household, m = member_where(has_monthly_salary)
    event = IncomeChange(
        **common(household, JUNE), member=m, stream=IncomeStream.WAGES, amount_fen=0
    )
    _, pop = apply(event)
    new = after(pop, household).members[m]
    months = [f.period_start.month for f in incomes(new, SourceKind.TAX, is_salary)]
    assert months == [1, 2, 3, 4, 5]
    employee = [
        f.period_start.month
        for f in new.facts_for(SourceKind.SOCIAL_INSURANCE)
        if isinstance(f, ContributionFact) and f.scheme.startswith("employee_")
    ]
    assert employee
    assert max(employee) == 5


def test_new_wages_for_someone_without_a_job_start_records_and_contributions() -> None:
    household, m = member_where(
        lambda p: not incomes(p, SourceKind.TAX, is_salary) and p.age_on(AS_OF) >= 18
    )
    event = IncomeChange(
        **common(household, date(AS_OF.year, 10, 3)),
        member=m,
        stream=IncomeStream.WAGES,
        amount_fen=300_000,
    )
    _, pop = apply(event)
    new_household = after(pop, household)
    new = new_household.members[m]
    salary = incomes(new, SourceKind.TAX, is_salary)
    assert [(f.period_start.month, f.amount_fen) for f in salary] == [
        (10, 300_000),
        (11, 300_000),
        (12, 300_000),
    ]
    assert all(f.record_id.startswith(f"TAX-{household.region}-E") for f in salary)
    assert len({f.payer for f in salary}) == 1
    insured = [
        f
        for f in new.facts_for(SourceKind.SOCIAL_INSURANCE)
        if isinstance(f, ContributionFact) and f.scheme.startswith("employee_")
    ]
    assert len(insured) == 6
    assert all(f.base_fen == 400_000 for f in insured)  # the floor: 4000 yuan
    assert changed(household, new_household) <= {(f"m{m}", "tax"), (f"m{m}", "social_insurance")}


def test_pension_change_moves_social_insurance_only() -> None:
    household, m = member_where(lambda p: bool(incomes(p, SourceKind.SOCIAL_INSURANCE, is_pension)))
    person = household.members[m]
    event = IncomeChange(
        **common(household, JUNE), member=m, stream=IncomeStream.PENSION, delta_fen=10_000
    )
    _, pop = apply(event)
    new_household = after(pop, household)
    assert changed(household, new_household) == {(f"m{m}", "social_insurance")}
    old_total = sum(f.amount_fen for f in incomes(person, SourceKind.SOCIAL_INSURANCE, is_pension))
    new_total = sum(
        f.amount_fen
        for f in incomes(new_household.members[m], SourceKind.SOCIAL_INSURANCE, is_pension)
    )
    assert new_total == old_total + 7 * 10_000  # June to December


def test_business_income_in_a_quarter_changes_for_its_later_months_only() -> None:
    household, m = member_where(lambda p: bool(incomes(p, SourceKind.TAX, is_business)))
    person = household.members[m]
    quarters = incomes(person, SourceKind.TAX, is_business)
    second = quarters[1]  # months 4..6 of a window ending in December
    effective = second.period_start + timedelta(days=40)  # in the quarter's second month
    event = IncomeChange(
        **common(household, effective), member=m, stream=IncomeStream.BUSINESS, amount_fen=100_001
    )
    _, pop = apply(event)
    new = incomes(after(pop, household).members[m], SourceKind.TAX, is_business)
    assert new[0] == quarters[0]
    # One month keeps its third of the old amount (rounded half up, once), two get the new.
    kept = (second.amount_fen * 1 * 2 + 3) // (3 * 2)
    assert new[1].amount_fen == kept + 2 * 100_001
    assert new[1].record_id == second.record_id
    assert [q.amount_fen for q in new[2:]] == [300_003] * len(quarters[2:])


def test_a_delta_on_income_the_member_does_not_have_is_refused() -> None:
    household, m = member_where(lambda p: not incomes(p, SourceKind.SOCIAL_INSURANCE, is_pension))
    timeline = Timeline(population())
    refused = refusal(
        timeline,
        IncomeChange(
            **common(household, JUNE), member=m, stream=IncomeStream.PENSION, delta_fen=100
        ),
    )
    assert [v.field for v in refused.violations] == ["events[0].delta_fen"]
    assert timeline.population is population()


def test_wages_cannot_go_negative() -> None:
    household, m = member_where(has_monthly_salary)
    refused = refusal(
        Timeline(population()),
        IncomeChange(
            **common(household, JUNE), member=m, stream=IncomeStream.WAGES, delta_fen=-(10**9)
        ),
    )
    assert refused.violations[0].field == "events[0].delta_fen"


# -- assets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "make"),
    [
        (
            SourceKind.VEHICLE,
            lambda c, m: NewVehicle(**c, member=m, kind=VehicleKind.CAR, value_fen=8_000_000),
        ),
        (
            SourceKind.REAL_ESTATE,
            lambda c, m: NewProperty(
                **c,
                member=m,
                kind=PropertyKind.RESIDENTIAL,
                area_m2=Decimal("86.5"),
                value_fen=52_000_000,
            ),
        ),
        (
            SourceKind.BUSINESS_REGISTRATION,
            lambda c, m: NewBusinessRegistration(
                **c, member=m, kind=BusinessKind.INDIVIDUAL_BUSINESS, capital_fen=5_000_000
            ),
        ),
    ],
)
def test_a_new_asset_is_one_more_record_at_its_registry_only(
    source: SourceKind, make: Callable[[dict[str, Any], int], LifeEvent]
) -> None:
    household = population().sample_household("370305", 0)
    m = len(household.members) - 1
    _, pop = apply(make(common(household, JUNE), m))
    new_household = after(pop, household)
    assert changed(household, new_household) == {(f"m{m}", source.value)}
    old = household.members[m].facts_for(source)
    new = new_household.members[m].facts_for(source)
    assert new[: len(old)] == old
    (added,) = new[len(old) :]
    assert isinstance(added, AssetFact)
    assert added.record_id.startswith(f"{source_prefix(source)}-370305-E")
    assert dict(added.details)["registered_on"] == JUNE.isoformat()
    if source is SourceKind.REAL_ESTATE:
        assert added.area_m2 == Decimal("86.50")
        assert str(added.area_m2) == "86.50"
    if source is SourceKind.BUSINESS_REGISTRATION:
        assert dict(added.details)["status"] == "active"
        assert dict(added.details)["business_name"]
    assert_others_untouched(pop, household)


def source_prefix(source: SourceKind) -> str:
    return {
        SourceKind.VEHICLE: "VEH",
        SourceKind.REAL_ESTATE: "RE",
        SourceKind.BUSINESS_REGISTRATION: "BIZ",
    }[source]


def deposits(person: Person) -> list[AssetFact]:
    return [
        f
        for f in person.facts_for(SourceKind.BANK)
        if isinstance(f, AssetFact) and f.category is AssetCategory.DEPOSIT
    ]


def test_deposit_change_sets_one_account_s_balance_or_opens_the_next() -> None:
    household, m = member_where(lambda p: len(deposits(p)) >= 2)
    person = household.members[m]
    timeline, pop = apply(
        DepositChange(**common(household, JUNE), member=m, account=1, balance_fen=123_456_78)
    )
    new_household = after(pop, household)
    assert changed(household, new_household) == {(f"m{m}", "bank")}
    old, new = deposits(person), deposits(new_household.members[m])
    assert new[0] == old[0]
    assert new[1] == replace(old[1], value_fen=123_456_78)
    opened = DepositChange(
        **common(household, JUNE, "ev-2"), member=m, account=len(old), balance_fen=50_000
    )
    timeline.apply([opened])
    newest = deposits(after(timeline.population, household).members[m])
    assert len(newest) == len(old) + 1
    assert newest[-1].value_fen == 50_000
    assert newest[-1].kind == "demand_deposit"
    too_far = DepositChange(
        **common(household, JUNE, "ev-3"), member=m, account=len(old) + 2, balance_fen=1
    )
    assert refusal(timeline, too_far).violations[0].field == "events[0].account"


# -- 户籍 -----------------------------------------------------------------------------------


def registration_of(person: Person) -> RegistrationFact:
    (fact,) = person.facts_for(SourceKind.HOUSEHOLD_REGISTRATION)
    assert isinstance(fact, RegistrationFact)
    return fact


def registered_numbers(fact: RegistrationFact) -> list[str]:
    return [m.id_number for m in fact.members]


def consistent_household() -> Household:
    return household_where(
        lambda h: (
            h.mismatch is None
            and len(h.members) >= 3
            and any(incomes(p, SourceKind.SOCIAL_INSURANCE, is_pension) for p in h.members[1:])
        )
    )


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


# -- the window, idempotency, all or nothing ------------------------------------------------


def in_window(facts: Iterable[Fact], start: date, end: date) -> list[dict[str, Any]]:
    return [encode_fact(f) for f in facts if overlaps(f, start, end)]


def test_a_window_before_the_effective_month_sees_the_old_records() -> None:
    household, m = member_where(has_monthly_salary)
    person = household.members[m]
    _, pop = apply(
        IncomeChange(
            **common(household, JUNE), member=m, stream=IncomeStream.WAGES, amount_fen=999_900
        )
    )
    new = after(pop, household).members[m]
    for source in SourceKind:
        spring = (date(AS_OF.year, 1, 1), date(AS_OF.year, 5, 31))
        if source in (SourceKind.TAX, SourceKind.SOCIAL_INSURANCE, SourceKind.PROVIDENT_FUND):
            assert in_window(new.facts_for(source), *spring) == in_window(
                person.facts_for(source), *spring
            )
    autumn = in_window(
        new.facts_for(SourceKind.TAX), date(AS_OF.year, 9, 1), date(AS_OF.year, 11, 30)
    )
    salaries = [r["amount_fen"] for r in autumn if r["kind"] == "salary"]
    assert salaries == [999_900] * 3


def test_an_event_after_the_last_day_of_the_data_is_refused() -> None:
    household = consistent_household()
    late = NewVehicle(
        **common(household, AS_OF + timedelta(days=1)), member=0, kind=VehicleKind.CAR, value_fen=1
    )
    refused = refusal(Timeline(population()), late)
    assert [v.field for v in refused.violations] == ["events[0].effective"]


def test_events_are_idempotent_by_id() -> None:
    household = consistent_household()
    event = NewVehicle(
        **common(household, JUNE), member=0, kind=VehicleKind.CAR, value_fen=1_000_000
    )
    timeline, first = apply(event)
    again = timeline.apply([event, event])
    assert again.applied == ()
    assert again.unchanged == ("ev-1",)
    assert timeline.population is first
    assert timeline.events() == (event,)
    vehicles = after(first, household).members[0].facts_for(SourceKind.VEHICLE)
    assert len(vehicles) == len(household.members[0].facts_for(SourceKind.VEHICLE)) + 1


def test_the_same_id_for_a_different_event_is_a_conflict_that_changes_nothing() -> None:
    household = consistent_household()
    event = NewVehicle(
        **common(household, JUNE), member=0, kind=VehicleKind.CAR, value_fen=1_000_000
    )
    timeline, first = apply(event)
    refused = refusal(timeline, replace(event, value_fen=2_000_000))
    assert refused.conflict
    assert [v.field for v in refused.violations] == ["events[0].id"]
    assert timeline.population is first
    within_one_batch = refusal(Timeline(population()), event, replace(event, member=1))
    assert within_one_batch.conflict


def test_one_bad_event_refuses_the_whole_batch() -> None:
    household = consistent_household()
    good = NewVehicle(**common(household, JUNE), member=0, kind=VehicleKind.CAR, value_fen=1)
    bad = Death(**common(household, JUNE, "ev-2"), member=29)
    timeline = Timeline(population())
    refused = refusal(timeline, good, bad)
    assert [v.field for v in refused.violations] == ["events[1].member"]
    assert timeline.population is population()
    assert timeline.events() == ()


def test_reset_returns_to_the_seed_and_the_seed_is_never_modified() -> None:
    seed_bytes = population().to_json()
    household = consistent_household()
    timeline, changed_population = apply(
        Death(**common(household, JUNE), member=1),
        Birth(**common(household, JUNE, "ev-2"), male=True),
    )
    assert changed_population.to_json() != seed_bytes
    assert timeline.reset() == 2
    assert timeline.population is population()
    assert timeline.events() == ()
    assert population().to_json() == seed_bytes


def test_the_same_events_on_the_same_seed_give_the_same_bytes() -> None:
    household = consistent_household()
    events: list[LifeEvent] = [
        IncomeChange(
            **common(household, JUNE, "a"), member=0, stream=IncomeStream.WAGES, amount_fen=123_400
        ),
        Birth(**common(household, JUNE, "b"), male=False),
        NewBusinessRegistration(
            **common(household, JUNE, "c"),
            member=1,
            kind=BusinessKind.INDIVIDUAL_BUSINESS,
            capital_fen=7,
        ),
        Death(**common(household, JUNE, "d"), member=2),
    ]
    first = Timeline(generate_population(SEED, households_per_county=PER_COUNTY))
    second = Timeline(generate_population(SEED, households_per_county=PER_COUNTY))
    first.apply(events)
    for event in events:  # one at a time this time
        second.apply([event])
    assert first.population.to_json() == second.population.to_json()


# -- the events as data ---------------------------------------------------------------------


def wire_event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "ev-1",
        "type": "income_change",
        "household": "370322-0001",
        "member": 0,
        "effective": "2025-06-01",
        "stream": "wages",
        "amount_fen": 350_000,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_parsed_events_round_trip_through_their_json() -> None:
    body = {
        "events": [
            wire_event(),
            wire_event(id="ev-2", amount_fen=None, delta_fen=-100),
            {
                "id": "ev-3",
                "type": "new_property",
                "household": "370322-0001",
                "member": 1,
                "effective": "2025-06-01",
                "kind": "residential",
                "area_m2": "86.5",
                "value_fen": 1,
            },
            {
                "id": "ev-4",
                "type": "birth",
                "household": "370322-0001",
                "effective": "2025-06-01",
                "male": True,
            },
            {
                "id": "ev-5",
                "type": "deposit_change",
                "household": "370322-0001",
                "member": 0,
                "effective": "2025-06-01",
                "balance_fen": 0,
            },
        ]
    }
    events = parse_events(body)
    assert [type(e).__name__ for e in events] == [
        "IncomeChange",
        "IncomeChange",
        "NewProperty",
        "Birth",
        "DepositChange",
    ]
    assert parse_events({"events": [e.to_json() for e in events]}) == events
    assert events[2].to_json()["area_m2"] == "86.50"
    assert events[3].to_json()["relation"] == "child"
    assert events[4].to_json()["account"] == 0


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (wire_event(type="promotion"), "events[0].type"),
        (wire_event(type=None), "events[0].type"),
        (wire_event(colour="red"), "events[0].colour"),
        (wire_event(member=None), "events[0].member"),
        (wire_event(member=True), "events[0].member"),
        (wire_event(member=30), "events[0].member"),
        (wire_event(member=-1), "events[0].member"),
        (wire_event(amount_fen=3500.5), "events[0].amount_fen"),
        (wire_event(amount_fen="350000"), "events[0].amount_fen"),
        (wire_event(amount_fen=-1), "events[0].amount_fen"),
        (wire_event(amount_fen=10**13), "events[0].amount_fen"),
        (wire_event(delta_fen=5), "events[0].amount_fen"),
        (wire_event(amount_fen=None), "events[0].amount_fen"),
        (wire_event(amount_fen=None, delta_fen=0), "events[0].delta_fen"),
        (wire_event(stream="salary"), "events[0].stream"),
        (wire_event(effective="2025-6-1"), "events[0].effective"),
        (wire_event(effective="2025-02-30"), "events[0].effective"),
        (wire_event(effective="2025-06-01\n"), "events[0].effective"),
        (wire_event(effective="１９９９-01-01"), "events[0].effective"),
        (wire_event(household="370322-1"), "events[0].household"),
        (wire_event(household="370322-0001\n"), "events[0].household"),
        (wire_event(id=""), "events[0].id"),
        (wire_event(id="ev 1"), "events[0].id"),
        (wire_event(id="x" * 65), "events[0].id"),
        (wire_event(id="ev-" + "1" * 17 + "X"), "events[0].id"),
        (wire_event(id=7), "events[0].id"),
        (
            {
                "id": "b",
                "type": "birth",
                "household": "370322-0001",
                "effective": "2025-06-01",
                "male": 1,
            },
            "events[0].male",
        ),
        (
            {
                "id": "b",
                "type": "birth",
                "household": "370322-0001",
                "effective": "2025-06-01",
                "male": True,
                "relation": "self",
            },
            "events[0].relation",
        ),
        (
            {
                "id": "p",
                "type": "new_property",
                "household": "370322-0001",
                "member": 0,
                "effective": "2025-06-01",
                "kind": "residential",
                "area_m2": 86.5,
                "value_fen": 1,
            },
            "events[0].area_m2",
        ),
        (
            {
                "id": "p",
                "type": "new_property",
                "household": "370322-0001",
                "member": 0,
                "effective": "2025-06-01",
                "kind": "residential",
                "area_m2": "0",
                "value_fen": 1,
            },
            "events[0].area_m2",
        ),
        (
            {
                "id": "p",
                "type": "new_property",
                "household": "370322-0001",
                "member": 0,
                "effective": "2025-06-01",
                "kind": "castle",
                "area_m2": "1",
                "value_fen": 1,
            },
            "events[0].kind",
        ),
        (
            {
                "id": "v",
                "type": "new_vehicle",
                "household": "370322-0001",
                "member": 0,
                "effective": "2025-06-01",
                "kind": "car",
            },
            "events[0].value_fen",
        ),
        ("not an object", "events[0].event"),
    ],
)
def test_malformed_events_are_refused_naming_the_field(event: Any, field: str) -> None:
    with pytest.raises(EventsRefused) as caught:
        parse_events({"events": [event]})
    assert field in [v.field for v in caught.value.violations]
    assert not caught.value.conflict


def test_every_bad_event_of_a_batch_is_named() -> None:
    with pytest.raises(EventsRefused) as caught:
        parse_events(
            {"events": [wire_event(), wire_event(member="x"), wire_event(stream=None, id="")]}
        )
    fields = [v.field for v in caught.value.violations]
    assert "events[1].member" in fields
    assert {"events[2].stream", "events[2].id"} <= set(fields)
    assert not any(f.startswith("events[0]") for f in fields)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"events": []},
        {"events": {}},
        {"events": [wire_event()] * 257},
        {"events": [wire_event()], "more": 1},
    ],
)
def test_a_body_that_is_not_a_list_of_events_is_refused(body: Any) -> None:
    with pytest.raises(EventsRefused):
        parse_events(body)


def test_refusals_never_repeat_the_values_they_refuse() -> None:
    number = resident_id.make("370322", date(1980, 1, 1), 11)
    with pytest.raises(EventsRefused) as caught:
        parse_events({"events": [wire_event(id=number, household=number, **{number: 1})]})
    assert number not in str(caught.value)
    assert all(number not in v.field and number not in v.reason for v in caught.value.violations)


def test_typed_events_check_themselves() -> None:
    with pytest.raises(FieldError, match="amount_fen"):
        IncomeChange(
            event_id="x",
            household="370322-0001",
            member=0,
            effective=JUNE,
            stream=IncomeStream.WAGES,
        )
    with pytest.raises(FieldError, match="area_m2"):
        NewProperty(
            event_id="x",
            household="370322-0001",
            member=0,
            effective=JUNE,
            kind=PropertyKind.RESIDENTIAL,
            area_m2=Decimal("1.234"),
            value_fen=1,
        )


def test_unknown_household_and_member_are_refused_against_the_population() -> None:
    timeline = Timeline(population())
    nowhere = Death(event_id="x", household="370322-9999", member=0, effective=JUNE)
    household = consistent_household()
    nobody = Death(**common(household, JUNE, "y"), member=len(household.members))
    refused = refusal(timeline, nowhere, nobody)
    assert [v.field for v in refused.violations] == ["events[0].household", "events[1].member"]


# -- a property: any sequence of accepted events keeps the population sound -----------------

_EVENT_KINDS = st.sampled_from(["income", "vehicle", "deposit", "death", "birth", "moved"])


def step_event(kind: str, c: dict[str, Any], m: int, n: int) -> LifeEvent:
    if kind == "income":
        return IncomeChange(**c, member=m, stream=IncomeStream.WAGES, amount_fen=100 * n)
    if kind == "vehicle":
        return NewVehicle(**c, member=m, kind=VehicleKind.MOTORCYCLE, value_fen=n)
    if kind == "deposit":
        return DepositChange(**c, member=m, balance_fen=n)
    if kind == "death":
        return Death(**c, member=m)
    if kind == "birth":
        return Birth(**c, male=n % 2 == 0)
    return MemberMovedOut(**c, member=m)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(_EVENT_KINDS, st.integers(0, 3), st.integers(0, 5), st.integers(1, 12)),
        min_size=1,
        max_size=12,
    )
)
def test_accepted_events_keep_ids_valid_unique_and_indexed(
    steps: list[tuple[str, int, int, int]],
) -> None:
    seed = population()
    households = seed.households("341824")[:4]
    timeline = Timeline(seed)
    for n, (kind, h, m, month) in enumerate(steps):
        household = households[h]
        day = date(AS_OF.year, month, 1)
        c = {"event_id": f"e{n}", "household": household.household_id, "effective": day}
        event = step_event(kind, c, m, n)
        before = timeline.population
        try:
            timeline.apply([event])
        except EventsRefused:
            assert timeline.population is before
    pop = timeline.population
    numbers = [p.id_number for p in pop.persons()]
    assert len(numbers) == len(set(numbers))
    assert all(resident_id.problems(n, today=AS_OF) == [] for n in numbers)
    assert all(pop.lookup(IdType.RESIDENT_ID, n) is not None for n in numbers)
    for household in pop.all_households:
        for _, person in people(household):
            (registration,) = person.facts_for(SourceKind.HOUSEHOLD_REGISTRATION)
            assert isinstance(registration, RegistrationFact)
            entries = [e.id_number for e in registration.members]
            assert person.id_number in entries
            assert (registration.cancelled_on is not None) == (person.died_on is not None)
    for old, new in zip(seed.all_households, pop.all_households, strict=True):
        if old not in households:
            assert new is old


def test_a_new_job_ends_unemployment_benefit_from_its_first_month() -> None:
    def unemployed(p: Person) -> bool:
        return bool(
            incomes(p, SourceKind.SOCIAL_INSURANCE, lambda f: f.kind == "unemployment_benefit")
        )

    household, m = member_where(unemployed)
    person = household.members[m]
    start = date(AS_OF.year, 11, 1)
    _, pop = apply(
        IncomeChange(
            **common(household, start), member=m, stream=IncomeStream.WAGES, amount_fen=300_000
        )
    )
    new = after(pop, household).members[m]
    benefit = incomes(new, SourceKind.SOCIAL_INSURANCE, lambda f: f.kind == "unemployment_benefit")
    old_benefit = incomes(
        person, SourceKind.SOCIAL_INSURANCE, lambda f: f.kind == "unemployment_benefit"
    )
    assert benefit == [f for f in old_benefit if f.period_start < start]
    assert len(benefit) < len(old_benefit)
