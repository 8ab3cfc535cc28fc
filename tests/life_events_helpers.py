"""Shared ground for the life-event tests: one sandbox population, and how they look at it.

People are named by their place in the household (``m0`` is the applicant, ``o0`` the first
outsider), never by ID number. A test takes one household, applies one event, and compares
what every department holds on every person before and after.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from hedui_sdk import SourceKind
from hedui_sdk.records import IncomeCategory
from hedui_sdk.sandbox import (
    EventsRefused,
    Household,
    LifeEvent,
    Person,
    Population,
    generate_population,
)
from hedui_sdk.sandbox.facts import IncomeFact
from hedui_sdk.sandbox.timeline import Timeline
from hedui_sdk.sandbox.wire import encode_fact

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


def consistent_household() -> Household:
    return household_where(
        lambda h: (
            h.mismatch is None
            and len(h.members) >= 3
            and any(incomes(p, SourceKind.SOCIAL_INSURANCE, is_pension) for p in h.members[1:])
        )
    )
