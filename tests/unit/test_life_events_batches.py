"""How events are applied: the window sees the old records before the effective month,
events are idempotent by ID, one bad event refuses the whole batch, reset returns to the seed,
and any sequence of accepted events keeps the population sound (a property).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hedui_sdk import IdType, SourceKind, resident_id
from hedui_sdk.sandbox import (
    Birth,
    Death,
    DepositChange,
    EventsRefused,
    IncomeChange,
    IncomeStream,
    LifeEvent,
    MemberMovedOut,
    NewBusinessRegistration,
    NewVehicle,
    VehicleKind,
    generate_population,
)
from hedui_sdk.sandbox.events import BusinessKind
from hedui_sdk.sandbox.facts import Fact, RegistrationFact, overlaps
from hedui_sdk.sandbox.timeline import Timeline
from hedui_sdk.sandbox.wire import encode_fact
from tests.life_events_helpers import (
    AS_OF,
    JUNE,
    PER_COUNTY,
    SEED,
    after,
    apply,
    common,
    consistent_household,
    has_monthly_salary,
    member_where,
    people,
    population,
    refusal,
)

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
