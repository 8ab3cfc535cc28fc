"""``hedui sandbox``: stand-in department systems serving a synthetic population.

* :func:`generate_population` — the deterministic population (same seed, same bytes).
* :func:`start_sandbox` / :func:`run_sandbox` — every department over HTTP, speaking the
  department gateway protocol v1 (docs/gateway-protocol.md), with fault knobs.
* Life events (:mod:`hedui_sdk.sandbox.events`) — income changes, a new car, a death, a
  birth… applied to a running sandbox so that a re-check finds real changes
  (docs/sandbox.md).
"""

from hedui_sdk.sandbox.counties import SEED_COUNTIES, County
from hedui_sdk.sandbox.events import (
    Birth,
    BusinessKind,
    Death,
    DepositChange,
    EventsRefused,
    EventType,
    IncomeChange,
    IncomeStream,
    LifeEvent,
    MemberMovedOut,
    NewbornRelation,
    NewBusinessRegistration,
    NewProperty,
    NewVehicle,
    PropertyKind,
    VehicleKind,
    Violation,
    parse_events,
)
from hedui_sdk.sandbox.faults import DEFAULT_BANK_DELAY_S, SourceFaults, default_faults
from hedui_sdk.sandbox.people import Household, Mismatch, Person, Profile, Relation
from hedui_sdk.sandbox.population import REFERENCE_DATE, Population, generate_population
from hedui_sdk.sandbox.server import (
    DEFAULT_PORT,
    DEFAULT_SEED,
    SandboxHandle,
    current_as_of,
    describe,
    run_sandbox,
    start_sandbox,
)
from hedui_sdk.sandbox.timeline import EventsApplied

__all__ = [
    "DEFAULT_BANK_DELAY_S",
    "DEFAULT_PORT",
    "DEFAULT_SEED",
    "REFERENCE_DATE",
    "SEED_COUNTIES",
    "Birth",
    "BusinessKind",
    "County",
    "Death",
    "DepositChange",
    "EventType",
    "EventsApplied",
    "EventsRefused",
    "Household",
    "IncomeChange",
    "IncomeStream",
    "LifeEvent",
    "MemberMovedOut",
    "Mismatch",
    "NewBusinessRegistration",
    "NewProperty",
    "NewVehicle",
    "NewbornRelation",
    "Person",
    "Population",
    "Profile",
    "PropertyKind",
    "Relation",
    "SandboxHandle",
    "SourceFaults",
    "VehicleKind",
    "Violation",
    "current_as_of",
    "default_faults",
    "describe",
    "generate_population",
    "parse_events",
    "run_sandbox",
    "start_sandbox",
]
