"""Life events: what happens to a sandbox household between two checks.

An event is data. It names the household by its sandbox id (``"370322-0007"``, see
:attr:`~hedui_sdk.sandbox.people.Household.household_id`) and the member by index among the
household's declared members as generated (0 is the applicant), says from which day it
takes effect, and carries an id that makes applying it idempotent. :func:`parse_events`
checks a request body field by field; :mod:`hedui_sdk.sandbox.evolve` applies events to a
population. No event carries personal data: the sandbox makes up names and ID numbers.
"""

from hedui_sdk.sandbox.event_parsing import (
    coerce_events,
    parse_event,
    parse_event_list,
    parse_events,
)
from hedui_sdk.sandbox.event_types import (
    EVENT_CLASSES,
    LIFE_EVENT_CLASSES,
    MAX_ACCOUNT_INDEX,
    MAX_EVENTS_PER_REQUEST,
    MAX_FEN,
    MAX_MEMBER_INDEX,
    Birth,
    BusinessKind,
    Death,
    DepositChange,
    EventsRefused,
    EventType,
    FieldError,
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
)

__all__ = [
    "EVENT_CLASSES",
    "LIFE_EVENT_CLASSES",
    "MAX_ACCOUNT_INDEX",
    "MAX_EVENTS_PER_REQUEST",
    "MAX_FEN",
    "MAX_MEMBER_INDEX",
    "Birth",
    "BusinessKind",
    "Death",
    "DepositChange",
    "EventType",
    "EventsRefused",
    "FieldError",
    "IncomeChange",
    "IncomeStream",
    "LifeEvent",
    "MemberMovedOut",
    "NewBusinessRegistration",
    "NewProperty",
    "NewVehicle",
    "NewbornRelation",
    "PropertyKind",
    "VehicleKind",
    "Violation",
    "coerce_events",
    "parse_event",
    "parse_event_list",
    "parse_events",
]
