"""Life events from JSON: a request body checked field by field, every bad field named
(``events[2].amount_fen``) without repeating its value."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast

from hedui_sdk.sandbox.event_types import (
    EVENT_CLASSES,
    LIFE_EVENT_CLASSES,
    MAX_EVENTS_PER_REQUEST,
    BusinessKind,
    EventsRefused,
    EventType,
    FieldError,
    IncomeStream,
    LifeEvent,
    NewbornRelation,
    PropertyKind,
    VehicleKind,
    Violation,
    check_event_id,
    check_household,
)

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_AREA = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,2})?", re.ASCII)
_FIELD_NAME = re.compile(r"[a-z_]{1,40}", re.ASCII)

_COMMON = ("id", "type", "household", "effective")
_FIELDS: dict[EventType, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # type: (required beyond the common ones, optional)
    EventType.INCOME_CHANGE: (("member", "stream"), ("amount_fen", "delta_fen")),
    EventType.NEW_VEHICLE: (("member", "kind", "value_fen"), ()),
    EventType.NEW_PROPERTY: (("member", "kind", "area_m2", "value_fen"), ()),
    EventType.NEW_BUSINESS_REGISTRATION: (("member", "kind", "capital_fen"), ()),
    EventType.DEPOSIT_CHANGE: (("member", "balance_fen"), ("account",)),
    EventType.DEATH: (("member",), ()),
    EventType.BIRTH: (("male",), ("relation",)),
    EventType.MEMBER_MOVED_OUT: (("member",), ()),
}
_KINDS: dict[EventType, type[StrEnum]] = {
    EventType.NEW_VEHICLE: VehicleKind,
    EventType.NEW_PROPERTY: PropertyKind,
    EventType.NEW_BUSINESS_REGISTRATION: BusinessKind,
}
_INTEGERS = frozenset(
    {"member", "account", "amount_fen", "delta_fen", "value_fen", "capital_fen", "balance_fen"}
)


def parse_events(body: Any, *, limit: int = MAX_EVENTS_PER_REQUEST) -> list[LifeEvent]:
    """The events of a request body ``{"events": [...]}``; raise :class:`EventsRefused`
    naming every bad field (``events[i].field``) when any is wrong."""
    if not isinstance(body, dict):
        raise EventsRefused([Violation("body", "must be a JSON object")])
    extra = sorted(k for k in body if k != "events")
    if extra:
        raise EventsRefused([Violation("body", "the only field is events")])
    raw_events = body.get("events")
    if not isinstance(raw_events, list) or not 1 <= len(raw_events) <= limit:
        raise EventsRefused([Violation("events", f"must be a list of 1..{limit} events")])
    return parse_event_list(raw_events)


def parse_event_list(raw_events: Sequence[Any]) -> list[LifeEvent]:
    """Each of ``raw_events`` (JSON objects) as an event; :class:`EventsRefused` naming
    every bad field when any is wrong."""
    events: list[LifeEvent] = []
    problems: list[Violation] = []
    for index, raw in enumerate(raw_events):
        try:
            events.append(parse_event(raw))
        except EventsRefused as refused:
            problems.extend(_located(index, refused))
    if problems:
        raise EventsRefused(problems)
    return events


def parse_event(raw: Any) -> LifeEvent:
    """One event from its JSON object (:class:`EventsRefused` names its bad fields)."""
    if not isinstance(raw, dict):
        raise EventsRefused([Violation("event", "must be a JSON object")])
    try:
        kind = EventType(_must_str(raw, "type"))
    except ValueError:
        known = ", ".join(t.value for t in EventType)
        raise EventsRefused([Violation("type", f"must be one of {known}")]) from None
    required, optional = _FIELDS[kind]
    problems: list[Violation] = []
    allowed = set(_COMMON) | set(required) | set(optional)
    problems.extend(
        # A key is echoed only when it looks like a field name: it is untrusted text.
        Violation(key if _FIELD_NAME.fullmatch(key) else "?", "is not a field of this event type")
        for key in sorted(map(str, raw))
        if key not in allowed
    )
    problems.extend(
        Violation(key, "is required") for key in (*_COMMON, *required) if key not in raw
    )
    values: dict[str, Any] = {}
    for key in (*_COMMON, *required, *optional):
        if key == "type" or key not in raw:
            continue
        try:
            values[key] = _field_value(kind, key, raw[key])
        except FieldError as exc:
            problems.append(Violation(exc.field, exc.reason))
    if problems:
        raise EventsRefused(problems)
    try:
        return _build(kind, values)
    except FieldError as exc:
        raise EventsRefused([Violation(exc.field, exc.reason)]) from None


def _must_str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise ValueError(key)
    return value


def _field_value(kind: EventType, key: str, value: Any) -> Any:
    if key == "id":
        check_event_id(value)
        return value
    if key == "household":
        check_household(value)
        return value
    if key == "effective":
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise FieldError(key, "must be a date YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise FieldError(key, "is not a real date") from None
    if key in _INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(key, "must be an integer (money is whole fen)")
        return value
    if key == "male":
        if not isinstance(value, bool):
            raise FieldError(key, "must be true or false")
        return value
    if key == "area_m2":
        if not isinstance(value, str) or not _AREA.fullmatch(value):
            raise FieldError(key, "must be a decimal string like '86.35'")
        return Decimal(value)
    choices: type[StrEnum] = {
        "stream": IncomeStream,
        "relation": NewbornRelation,
    }.get(key) or _KINDS[kind]
    if not isinstance(value, str) or value not in {c.value for c in choices}:
        raise FieldError(key, "must be one of " + ", ".join(c.value for c in choices))
    return choices(value)


def _build(kind: EventType, v: dict[str, Any]) -> LifeEvent:
    values = dict(v)
    return EVENT_CLASSES[kind](event_id=values.pop("id"), **values)


def coerce_events(events: Sequence[LifeEvent | Mapping[str, Any]]) -> list[LifeEvent]:
    """Typed events as they are and JSON objects parsed, for the Python API;
    :class:`EventsRefused` names every bad field (``events[i].field``)."""
    if not 1 <= len(events) <= MAX_EVENTS_PER_REQUEST:
        raise EventsRefused(
            [Violation("events", f"must be a list of 1..{MAX_EVENTS_PER_REQUEST} events")]
        )
    out: list[LifeEvent] = []
    problems: list[Violation] = []
    # Callers outside mypy's view may pass anything: each item is checked, none dropped.
    for index, event in enumerate(cast("Sequence[object]", events)):
        if isinstance(event, LIFE_EVENT_CLASSES):
            out.append(event)
        elif isinstance(event, Mapping):
            try:
                out.append(parse_event(dict(event)))
            except EventsRefused as refused:
                problems.extend(_located(index, refused))
        else:
            problems.append(Violation(f"events[{index}]", "must be a life event or an object"))
    if problems:
        raise EventsRefused(problems)
    return out


def _located(index: int, refused: EventsRefused) -> list[Violation]:
    return [Violation(f"events[{index}].{v.field}", v.reason) for v in refused.violations]
