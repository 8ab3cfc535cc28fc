"""What every kind of life event needs while it is applied: the state carried between
batches, finding the household and member an event names, new record ids, and swapping
a changed person into their household (copy on write). See :mod:`hedui_sdk.sandbox.evolve`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from hedui_sdk.contract import SourceKind
from hedui_sdk.sandbox.event_types import FieldError
from hedui_sdk.sandbox.facts import Fact
from hedui_sdk.sandbox.numbering import month_end, recent_months
from hedui_sdk.sandbox.people import Household, Person
from hedui_sdk.sandbox.population import HISTORY_MONTHS, Population


@dataclass(slots=True)
class EvolutionState:
    """What carries over from one batch of events to the next: the new-record counters
    and, per member, the latest day an applied event took effect."""

    counters: dict[str, int] = field(default_factory=dict)
    latest: dict[tuple[str, int], date] = field(default_factory=dict)

    def copy(self) -> EvolutionState:
        """An independent copy (a refused batch leaves the original untouched)."""
        return EvolutionState(dict(self.counters), dict(self.latest))


class EvolutionBase:
    """The population an evolution starts from, what it changed so far, and the lookups
    and counters every event uses."""

    def __init__(self, population: Population, state: EvolutionState) -> None:
        self._base = population
        self._state = state.copy()
        self._changed: dict[str, Household] = {}
        self._issued: set[str] = set()
        self._months = recent_months(population.as_of, HISTORY_MONTHS)

    def _household(self, household_id: str, effective: date) -> Household:
        household = self._changed.get(household_id) or self._base.household(household_id)
        if household is None:
            raise FieldError("household", "no such household in this sandbox")
        if effective > self._base.as_of:
            raise FieldError("effective", "is after the last day of the sandbox's data (as_of)")
        return household

    def _member(self, household: Household, index: int, effective: date) -> Person:
        count = len(household.members)
        if index >= count:
            raise FieldError("member", f"the household declares {count} members: 0..{count - 1}")
        person = household.members[index]
        if person.died_on is not None:
            raise FieldError("member", "has died: no later event applies to them")
        if effective < person.born:
            raise FieldError("effective", "is before the member was born")
        return person

    def _done(self, household: Household, member: int | None, effective: date) -> None:
        self._changed[household.household_id] = household
        if member is not None:
            key = (household.household_id, member)
            previous = self._state.latest.get(key)
            self._state.latest[key] = effective if previous is None else max(previous, effective)

    def _record_id(self, prefix: str, region: str) -> str:
        n = self._next(f"{prefix}-{region}")
        return f"{prefix}-{region}-E{n:07d}"

    def _household_number(self, region: str) -> str:
        return f"HK{region}E{self._next(f'HK-{region}'):05d}"

    def _next(self, series: str) -> int:
        n = self._state.counters.get(series, 0) + 1
        self._state.counters[series] = n
        return n


def month_starts(start: date, end: date) -> list[date]:
    """The first day of every calendar month that ``start``..``end`` touches."""
    months: list[date] = []
    month = start.replace(day=1)
    while month <= end:
        months.append(month)
        month = month_end(month) + timedelta(days=1)
    return months


def half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero, in integers."""
    quotient, remainder = divmod(abs(numerator), denominator)
    rounded = quotient + (1 if 2 * remainder >= denominator else 0)
    return rounded if numerator >= 0 else -rounded


def with_facts(person: Person, source: SourceKind, facts: Iterable[Fact]) -> Person:
    """``person`` holding ``facts`` at ``source`` (nothing at all when there are none)."""
    held = dict(person.facts)
    kept = tuple(facts)
    if kept:
        held[source] = kept
    else:  # a department with nothing left on someone answers NOT_FOUND
        held.pop(source, None)
    return replace(person, facts=held)


def swap(household: Household, old: Person, new: Person) -> Household:
    """``household`` with ``new`` in the place of ``old`` (a member or an outsider)."""
    return replace(
        household,
        members=tuple(new if p is old else p for p in household.members),
        outsiders=tuple(new if p is old else p for p in household.outsiders),
    )
