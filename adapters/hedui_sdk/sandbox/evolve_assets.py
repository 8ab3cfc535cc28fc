"""New assets (a vehicle, a property, a business) and deposit balances: one more record at
its registry, or one balance set. See :mod:`hedui_sdk.sandbox.evolve`."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from decimal import Decimal

from hedui_sdk.contract import SourceKind
from hedui_sdk.records import AssetCategory
from hedui_sdk.sandbox.counties import COUNTY_BY_CODE
from hedui_sdk.sandbox.economics import BANK_NAMES, COMPANY_NAMES, SHOP_NAMES, place_name
from hedui_sdk.sandbox.event_types import (
    BusinessKind,
    DepositChange,
    FieldError,
    NewBusinessRegistration,
    NewProperty,
    NewVehicle,
)
from hedui_sdk.sandbox.evolve_base import EvolutionBase, swap, with_facts
from hedui_sdk.sandbox.facts import AssetFact

_VEHICLES = (SourceKind.VEHICLE, "VEH", AssetCategory.VEHICLE)
_PROPERTY = (SourceKind.REAL_ESTATE, "RE", AssetCategory.REAL_ESTATE)
_BUSINESSES = (SourceKind.BUSINESS_REGISTRATION, "BIZ", AssetCategory.BUSINESS)


class AssetEvents(EvolutionBase):
    """Applies new vehicles, properties and businesses, and deposit changes."""

    def _register(
        self,
        event: NewVehicle | NewProperty | NewBusinessRegistration,
        registry: tuple[SourceKind, str, AssetCategory],
        value_fen: int,
        details: tuple[tuple[str, str], ...],
        area_m2: Decimal | None = None,
    ) -> None:
        """One more record for the event's member at ``registry`` (its source, the prefix
        of its record ids, the asset category)."""
        source, prefix, category = registry
        household = self._household(event.household, event.effective)
        person = self._member(household, event.member, event.effective)
        fact = AssetFact(
            self._record_id(prefix, household.region),
            category,
            event.kind.value,
            value_fen,
            area_m2=area_m2,
            details=details,
        )
        after = with_facts(person, source, (*person.facts_for(source), fact))
        self._done(swap(household, person, after), event.member, event.effective)

    def _new_vehicle(self, event: NewVehicle) -> None:
        details = (("vehicle_kind", event.kind.value), *_registered(event.effective))
        self._register(event, _VEHICLES, event.value_fen, details)

    def _new_property(self, event: NewProperty) -> None:
        details = (("usage", event.kind.usage), *_registered(event.effective))
        self._register(event, _PROPERTY, event.value_fen, details, event.area_m2)

    def _new_business(self, event: NewBusinessRegistration) -> None:
        household = self._household(event.household, event.effective)
        county = COUNTY_BY_CODE.get(household.region)
        place = place_name(county.name) if county is not None else ""
        rng = random.Random(f"hedui-sandbox-event:{event.event_id}")  # noqa: S311 -- synthetic
        if event.kind is BusinessKind.LIMITED_COMPANY:
            name = f"{place}{rng.choice(COMPANY_NAMES)}有限公司"
        else:
            name = f"{place}{rng.choice(SHOP_NAMES)}"
        year, day = _registered(event.effective)
        details = (("business_name", name), year, ("status", "active"), day)
        self._register(event, _BUSINESSES, event.capital_fen, details)

    def _deposit_change(self, event: DepositChange) -> None:
        household = self._household(event.household, event.effective)
        person = self._member(household, event.member, event.effective)
        held = person.facts_for(SourceKind.BANK)
        accounts = [
            i
            for i, f in enumerate(held)
            if isinstance(f, AssetFact) and f.category is AssetCategory.DEPOSIT
        ]
        facts = list(held)
        if event.account < len(accounts):
            at = accounts[event.account]
            old = facts[at]
            assert isinstance(old, AssetFact)
            facts[at] = replace(old, value_fen=event.balance_fen)
        elif event.account == len(accounts):
            rng = random.Random(f"hedui-sandbox-event:{event.event_id}")  # noqa: S311
            facts.append(
                AssetFact(
                    self._record_id("BANK", household.region),
                    AssetCategory.DEPOSIT,
                    "demand_deposit",
                    event.balance_fen,
                    details=(("bank", rng.choice(BANK_NAMES)),),
                )
            )
        else:
            raise FieldError(
                "account",
                f"the member has {len(accounts)} deposit accounts: 0..{len(accounts)} (a new one)",
            )
        after = with_facts(person, SourceKind.BANK, facts)
        self._done(swap(household, person, after), event.member, event.effective)


def _registered(day: date) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("registered_year", str(day.year)), ("registered_on", day.isoformat())
