"""How each life event changes what the sandbox departments hold.

:class:`Evolution` applies events to a population one at a time, copy on write: a
household an event touches is rebuilt, and every other household, with every person and
record in it, stays the very same object, so the departments answer for it byte for byte
as before.

Money follows the calendar month, in integer fen. A change effective on any day of a
month applies from that whole month on. A record that spans several months (a business
quarter, a year's rent) keeps the months before that share of its amount, rounded half
up to the fen once, and gains the new amount for the months from it. A month whose
income becomes 0 has no record, as a department records payments, not their absence.
A death ends income and contributions with the month of death (pensions are paid for it).

New records get ids in a series of their own (``TAX-370322-E0000001``), counted in the
order events are applied, so the same events on the same seed give the same bytes.
"""

from __future__ import annotations

from hedui_sdk.sandbox.event_types import (
    Birth,
    Death,
    DepositChange,
    IncomeChange,
    LifeEvent,
    NewBusinessRegistration,
    NewProperty,
    NewVehicle,
)
from hedui_sdk.sandbox.evolve_assets import AssetEvents
from hedui_sdk.sandbox.evolve_base import EvolutionState
from hedui_sdk.sandbox.evolve_hukou import HukouEvents
from hedui_sdk.sandbox.evolve_income import IncomeEvents
from hedui_sdk.sandbox.population import Population

__all__ = ["Evolution", "EvolutionState"]


class Evolution(IncomeEvents, AssetEvents, HukouEvents):
    """Events applied on top of ``population``; :meth:`result` is the new population.

    :meth:`apply` raises :class:`~hedui_sdk.sandbox.events.FieldError` for an event that
    does not fit the population (no such member, a death before another event…); the
    caller then throws the whole evolution away.
    """

    def result(self) -> tuple[Population, EvolutionState]:
        """The population with every applied event, and the state to carry on from."""
        return self._base.replacing(self._changed), self._state.copy()

    def apply(self, event: LifeEvent) -> None:
        """Apply one event (see the module docstring for the rules)."""
        if isinstance(event, IncomeChange):
            self._income_change(event)
        elif isinstance(event, NewVehicle):
            self._new_vehicle(event)
        elif isinstance(event, NewProperty):
            self._new_property(event)
        elif isinstance(event, NewBusinessRegistration):
            self._new_business(event)
        elif isinstance(event, DepositChange):
            self._deposit_change(event)
        elif isinstance(event, Death):
            self._death(event)
        elif isinstance(event, Birth):
            self._birth(event)
        else:
            self._moved_out(event)
