"""Life events: what happens to a sandbox household between two checks.

An event is data. It names the household by its sandbox id (``"370322-0007"``, see
:attr:`~hedui_sdk.sandbox.people.Household.household_id`) and the member by index among the
household's declared members as generated (0 is the applicant), says from which day it
takes effect, and carries an id that makes applying it idempotent. :func:`parse_events`
checks a request body field by field; :mod:`hedui_sdk.sandbox.evolve` applies events to a
population. No event carries personal data: the sandbox makes up names and ID numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast

MAX_EVENTS_PER_REQUEST = 256
"""How many events one ``POST /admin/events`` (or one ``apply_events`` call) may carry."""

MAX_FEN = 10**12
"""The largest amount of money an event may name (10 billion yuan), in fen."""

MAX_MEMBER_INDEX = 29
"""Households have at most 30 members (hedui refuses larger ones)."""

MAX_ACCOUNT_INDEX = 15

_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", re.ASCII)
_LONG_DIGIT_RUN = re.compile(r"[0-9]{15,}", re.ASCII)
_HOUSEHOLD_ID = re.compile(r"[0-9]{6}-[0-9]{4,7}", re.ASCII)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_AREA = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,2})?", re.ASCII)
_EARLIEST = date(1890, 1, 1)
_CENTI = Decimal("0.01")
_FIELD_NAME = re.compile(r"[a-z_]{1,40}", re.ASCII)


class EventType(StrEnum):
    """The kinds of life event the sandbox knows."""

    INCOME_CHANGE = "income_change"
    NEW_VEHICLE = "new_vehicle"
    NEW_PROPERTY = "new_property"
    NEW_BUSINESS_REGISTRATION = "new_business_registration"
    DEPOSIT_CHANGE = "deposit_change"
    DEATH = "death"
    BIRTH = "birth"
    MEMBER_MOVED_OUT = "member_moved_out"


class IncomeStream(StrEnum):
    """Which income an ``income_change`` moves, and the department that records it."""

    WAGES = "wages"
    """Monthly salary (tax), with the social insurance and provident fund contributions
    that follow the wage."""
    PENSION = "pension"
    """Monthly pension paid by social insurance."""
    BUSINESS = "business"
    """Net business income (tax); quarterly records change month by month."""


class VehicleKind(StrEnum):
    """What a ``new_vehicle`` registers (the 车管 department's vehicle kinds)."""

    CAR = "car"
    MOTORCYCLE = "motorcycle"
    TRICYCLE = "tricycle"
    TRUCK = "truck"


class PropertyKind(StrEnum):
    """What a ``new_property`` registers, with the usage the 不动产 register prints."""

    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    RURAL_HOUSE = "rural_house"

    @property
    def usage(self) -> str:
        """The usage label of the register (住宅, 商业, 宅基地房屋)."""
        return {"residential": "住宅", "commercial": "商业", "rural_house": "宅基地房屋"}[
            self.value
        ]


_USAGE = {"residential": "住宅", "commercial": "商业", "rural_house": "宅基地房屋"}


class BusinessKind(StrEnum):
    """What a ``new_business_registration`` registers."""

    INDIVIDUAL_BUSINESS = "individual_business"
    LIMITED_COMPANY = "limited_company"


class NewbornRelation(StrEnum):
    """A newborn's relation to the head of the registration."""

    CHILD = "child"
    GRANDCHILD = "grandchild"


class FieldError(ValueError):
    """One field of an event is wrong. ``field`` is its wire name; ``reason`` says why
    without repeating the value (which might be personal data)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Violation:
    """A refused field: ``events[2].amount_fen`` and why."""

    field: str
    reason: str

    def to_json(self) -> dict[str, str]:
        """The admin endpoint's shape."""
        return {"field": self.field, "reason": self.reason}


class EventsRefused(ValueError):
    """A batch of events was refused; nothing of it was applied.

    ``conflict`` is true when an event id was already used for a different event (the
    admin endpoint answers 409); otherwise the events are malformed or do not fit the
    population (422).
    """

    def __init__(self, violations: Sequence[Violation], *, conflict: bool = False) -> None:
        self.violations = tuple(violations)
        self.conflict = conflict
        first = self.violations[0] if self.violations else Violation("events", "refused")
        more = f" (and {len(self.violations) - 1} more)" if len(self.violations) > 1 else ""
        super().__init__(f"{first.field}: {first.reason}{more}")


# -- the events -----------------------------------------------------------------------------


def _check_event_id(event_id: str) -> None:
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise FieldError("id", "must be 1..64 characters: ASCII letters, digits and . _ : -")
    if _LONG_DIGIT_RUN.search(event_id):
        raise FieldError("id", "must not hold a run of 15 or more digits (an ID number?)")


def _check_household(household: str) -> None:
    if not isinstance(household, str) or not _HOUSEHOLD_ID.fullmatch(household):
        raise FieldError("household", "must be a sandbox household id like 370322-0001")


def _check_common(event_id: str, household: str, effective: date) -> None:
    _check_event_id(event_id)
    _check_household(household)
    if effective < _EARLIEST:
        raise FieldError("effective", "must not be before 1890-01-01")


def _check_member(member: int) -> None:
    if isinstance(member, bool) or not 0 <= member <= MAX_MEMBER_INDEX:
        raise FieldError("member", f"must be a member index 0..{MAX_MEMBER_INDEX}")


def _check_fen(field: str, value: int, *, signed: bool = False) -> None:
    low = -MAX_FEN if signed else 0
    if isinstance(value, bool) or not low <= value <= MAX_FEN:
        raise FieldError(field, f"must be whole fen from {low} to {MAX_FEN}")


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomeChange:
    """A member's ``stream`` income, from the month of ``effective`` on: set to
    ``amount_fen`` a month, or moved by ``delta_fen`` a month (exactly one of the two)."""

    event_id: str
    household: str
    member: int
    effective: date
    stream: IncomeStream
    amount_fen: int | None = None
    delta_fen: int | None = None

    def __post_init__(self) -> None:
        _check_common(self.event_id, self.household, self.effective)
        _check_member(self.member)
        if (self.amount_fen is None) == (self.delta_fen is None):
            raise FieldError("amount_fen", "give exactly one of amount_fen and delta_fen")
        if self.amount_fen is not None:
            _check_fen("amount_fen", self.amount_fen)
        if self.delta_fen is not None:
            _check_fen("delta_fen", self.delta_fen, signed=True)
            if self.delta_fen == 0:
                raise FieldError("delta_fen", "must not be 0 (an event that changes nothing)")

    @property
    def type(self) -> EventType:
        return EventType.INCOME_CHANGE

    def to_json(self) -> dict[str, Any]:
        body = _common_json(self.type, self.event_id, self.household, self.effective)
        body.update(member=self.member, stream=self.stream.value)
        if self.amount_fen is not None:
            body["amount_fen"] = self.amount_fen
        if self.delta_fen is not None:
            body["delta_fen"] = self.delta_fen
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class NewVehicle:
    """A vehicle registered to a member on ``effective``, worth ``value_fen``."""

    event_id: str
    household: str
    member: int
    effective: date
    kind: VehicleKind
    value_fen: int

    def __post_init__(self) -> None:
        _check_common(self.event_id, self.household, self.effective)
        _check_member(self.member)
        _check_fen("value_fen", self.value_fen)

    @property
    def type(self) -> EventType:
        return EventType.NEW_VEHICLE

    def to_json(self) -> dict[str, Any]:
        body = _common_json(self.type, self.event_id, self.household, self.effective)
        body.update(member=self.member, kind=self.kind.value, value_fen=self.value_fen)
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class NewProperty:
    """Real estate registered to a member on ``effective``: ``area_m2`` (two decimals at
    most) worth ``value_fen``."""

    event_id: str
    household: str
    member: int
    effective: date
    kind: PropertyKind
    area_m2: Decimal
    value_fen: int

    def __post_init__(self) -> None:
        _check_common(self.event_id, self.household, self.effective)
        _check_member(self.member)
        _check_fen("value_fen", self.value_fen)
        if not (
            isinstance(self.area_m2, Decimal)
            and self.area_m2.is_finite()
            and Decimal(0) < self.area_m2 <= Decimal(100000)
            and self.area_m2 == self.area_m2.quantize(_CENTI)
        ):
            raise FieldError("area_m2", "must be a decimal above 0 and up to 100000, 2 places")
        # One spelling of each area, so records (and idempotency) do not depend on it.
        object.__setattr__(self, "area_m2", self.area_m2.quantize(_CENTI))

    @property
    def type(self) -> EventType:
        return EventType.NEW_PROPERTY

    def to_json(self) -> dict[str, Any]:
        body = _common_json(self.type, self.event_id, self.household, self.effective)
        body.update(
            member=self.member,
            kind=self.kind.value,
            area_m2=str(self.area_m2),
            value_fen=self.value_fen,
        )
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class NewBusinessRegistration:
    """A business (市场主体) registered to a member on ``effective`` with ``capital_fen``
    registered capital. The sandbox names it."""

    event_id: str
    household: str
    member: int
    effective: date
    kind: BusinessKind
    capital_fen: int

    def __post_init__(self) -> None:
        _check_common(self.event_id, self.household, self.effective)
        _check_member(self.member)
        _check_fen("capital_fen", self.capital_fen)

    @property
    def type(self) -> EventType:
        return EventType.NEW_BUSINESS_REGISTRATION

    def to_json(self) -> dict[str, Any]:
        body = _common_json(self.type, self.event_id, self.household, self.effective)
        body.update(member=self.member, kind=self.kind.value, capital_fen=self.capital_fen)
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class DepositChange:
    """A member's deposit account ``account`` (index among their deposits at the bank,
    0 by default) now holds ``balance_fen``; the next index opens a new account."""

    event_id: str
    household: str
    member: int
    effective: date
    balance_fen: int
    account: int = 0

    def __post_init__(self) -> None:
        _check_common(self.event_id, self.household, self.effective)
        _check_member(self.member)
        _check_fen("balance_fen", self.balance_fen)
        if isinstance(self.account, bool) or not 0 <= self.account <= MAX_ACCOUNT_INDEX:
            raise FieldError("account", f"must be an account index 0..{MAX_ACCOUNT_INDEX}")

    @property
    def type(self) -> EventType:
        return EventType.DEPOSIT_CHANGE

    def to_json(self) -> dict[str, Any]:
        body = _common_json(self.type, self.event_id, self.household, self.effective)
        body.update(member=self.member, account=self.account, balance_fen=self.balance_fen)
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class Death:
    """A member died on ``effective``: their 户籍 is cancelled and income ends with
    that month."""

    event_id: str
    household: str
    member: int
    effective: date

    def __post_init__(self) -> None:
        _check_common(self.event_id, self.household, self.effective)
        _check_member(self.member)

    @property
    def type(self) -> EventType:
        return EventType.DEATH

    def to_json(self) -> dict[str, Any]:
        body = _common_json(self.type, self.event_id, self.household, self.effective)
        body["member"] = self.member
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class Birth:
    """A child born on ``effective`` and registered on the household's 户籍."""

    event_id: str
    household: str
    effective: date
    male: bool
    relation: NewbornRelation = NewbornRelation.CHILD

    def __post_init__(self) -> None:
        _check_common(self.event_id, self.household, self.effective)
        if not isinstance(self.male, bool):
            raise FieldError("male", "must be true or false")

    @property
    def type(self) -> EventType:
        return EventType.BIRTH

    def to_json(self) -> dict[str, Any]:
        body = _common_json(self.type, self.event_id, self.household, self.effective)
        body.update(male=self.male, relation=self.relation.value)
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberMovedOut:
    """A member moved out on ``effective``: off the household's 户籍, onto one of their
    own (a new household number in the same county)."""

    event_id: str
    household: str
    member: int
    effective: date

    def __post_init__(self) -> None:
        _check_common(self.event_id, self.household, self.effective)
        _check_member(self.member)

    @property
    def type(self) -> EventType:
        return EventType.MEMBER_MOVED_OUT

    def to_json(self) -> dict[str, Any]:
        body = _common_json(self.type, self.event_id, self.household, self.effective)
        body["member"] = self.member
        return body


LifeEvent = (
    IncomeChange
    | NewVehicle
    | NewProperty
    | NewBusinessRegistration
    | DepositChange
    | Death
    | Birth
    | MemberMovedOut
)
"""Any life event."""


def _common_json(kind: EventType, event_id: str, household: str, effective: date) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": kind.value,
        "household": household,
        "effective": effective.isoformat(),
    }


# -- parsing -----------------------------------------------------------------------------

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
        _check_event_id(value)
        return value
    if key == "household":
        _check_household(value)
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
    common = {"event_id": v["id"], "household": v["household"], "effective": v["effective"]}
    if kind is EventType.INCOME_CHANGE:
        return IncomeChange(
            **common,
            member=v["member"],
            stream=v["stream"],
            amount_fen=v.get("amount_fen"),
            delta_fen=v.get("delta_fen"),
        )
    if kind is EventType.NEW_VEHICLE:
        return NewVehicle(**common, member=v["member"], kind=v["kind"], value_fen=v["value_fen"])
    if kind is EventType.NEW_PROPERTY:
        return NewProperty(
            **common,
            member=v["member"],
            kind=v["kind"],
            area_m2=v["area_m2"],
            value_fen=v["value_fen"],
        )
    if kind is EventType.NEW_BUSINESS_REGISTRATION:
        return NewBusinessRegistration(
            **common, member=v["member"], kind=v["kind"], capital_fen=v["capital_fen"]
        )
    if kind is EventType.DEPOSIT_CHANGE:
        return DepositChange(
            **common, member=v["member"], balance_fen=v["balance_fen"], account=v.get("account", 0)
        )
    if kind is EventType.DEATH:
        return Death(**common, member=v["member"])
    if kind is EventType.BIRTH:
        return Birth(**common, male=v["male"], relation=v.get("relation", NewbornRelation.CHILD))
    return MemberMovedOut(**common, member=v["member"])


_EVENT_CLASSES = (
    IncomeChange,
    NewVehicle,
    NewProperty,
    NewBusinessRegistration,
    DepositChange,
    Death,
    Birth,
    MemberMovedOut,
)


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
        if isinstance(event, _EVENT_CLASSES):
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
