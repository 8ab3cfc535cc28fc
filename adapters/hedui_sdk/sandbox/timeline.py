"""The life events a sandbox has applied, and the population they have led to.

A :class:`Timeline` starts at the seed population. Each batch of events is applied all
or nothing: one event that does not fit refuses the batch and changes nothing. Applying
an event id again with the same event does nothing; with a different event it is a
conflict. :meth:`Timeline.reset` goes back to the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hedui_sdk.sandbox.events import EventsRefused, FieldError, LifeEvent, Violation
from hedui_sdk.sandbox.evolve import Evolution, EvolutionState
from hedui_sdk.sandbox.population import Population


@dataclass(frozen=True, slots=True)
class EventsApplied:
    """What a batch did: the ids applied now, and those applied before (left alone)."""

    applied: tuple[str, ...]
    unchanged: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The admin endpoint's answer."""
        return {"applied": list(self.applied), "unchanged": list(self.unchanged)}


class Timeline:
    """The seed population, the events applied to it in order, and the result."""

    def __init__(self, seed: Population) -> None:
        self.seed = seed
        self._population = seed
        self._applied: dict[str, LifeEvent] = {}
        self._state = EvolutionState()

    @property
    def population(self) -> Population:
        """The population as the events have left it (the seed when there are none)."""
        return self._population

    def events(self) -> tuple[LifeEvent, ...]:
        """Every applied event, in the order it was applied."""
        return tuple(self._applied.values())

    def apply(self, events: Sequence[LifeEvent]) -> EventsApplied:
        """Apply ``events`` in order, all or nothing; raise
        :class:`~hedui_sdk.sandbox.events.EventsRefused` naming each event that does not
        fit (``events[i].field``)."""
        evolution = Evolution(self._population, self._state)
        batch: dict[str, LifeEvent] = {}
        applied: list[str] = []
        unchanged: list[str] = []
        conflicts: list[Violation] = []
        problems: list[Violation] = []
        for index, event in enumerate(events):
            earlier = self._applied.get(event.event_id) or batch.get(event.event_id)
            if earlier is not None:
                if earlier == event:
                    if event.event_id not in unchanged and event.event_id not in batch:
                        unchanged.append(event.event_id)
                else:
                    conflicts.append(
                        Violation(f"events[{index}].id", "was already used for a different event")
                    )
                continue
            batch[event.event_id] = event
            try:
                evolution.apply(event)
            except FieldError as exc:
                problems.append(Violation(f"events[{index}].{exc.field}", exc.reason))
                continue
            applied.append(event.event_id)
        if conflicts:
            raise EventsRefused([*conflicts, *problems], conflict=True)
        if problems:
            raise EventsRefused(problems)
        if applied:
            self._population, self._state = evolution.result()
            self._applied.update(batch)
        return EventsApplied(tuple(applied), tuple(unchanged))

    def reset(self) -> int:
        """Back to the seed population; returns how many events were undone."""
        undone = len(self._applied)
        self._population = self.seed
        self._applied = {}
        self._state = EvolutionState()
        return undone
