"""The life events a sandbox household can go through, and how a bad one is refused.

See :mod:`hedui_sdk.sandbox.events` for what an event is; each class here checks its own
fields when it is made (:class:`FieldError` names the first bad one).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, ClassVar

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
_EARLIEST = date(1890, 1, 1)
_CENTI = Decimal("0.01")


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


def check_event_id(event_id: str) -> None:
    """Refuse an event id that is not 1..64 safe characters or holds an ID-number-like run."""
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise FieldError("id", "must be 1..64 characters: ASCII letters, digits and . _ : -")
    if _LONG_DIGIT_RUN.search(event_id):
        raise FieldError("id", "must not hold a run of 15 or more digits (an ID number?)")


def check_household(household: str) -> None:
    """Refuse a household that is not a sandbox household id."""
    if not isinstance(household, str) or not _HOUSEHOLD_ID.fullmatch(household):
        raise FieldError("household", "must be a sandbox household id like 370322-0001")


def _check_common(event_id: str, household: str, effective: date) -> None:
    check_event_id(event_id)
    check_household(household)
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
class _Event:
    """What every event has: an id, the household, the day it takes effect."""

    event_id: str
    household: str
    effective: date
    type: ClassVar[EventType]

    def __post_init__(self) -> None:
        _check_common(self.event_id, self.household, self.effective)

    def to_json(self) -> dict[str, Any]:
        """The event as the admin endpoint takes and lists it: the common fields, then the
        event's own in their declared order (an absent optional one left out)."""
        body: dict[str, Any] = {
            "id": self.event_id,
            "type": self.type.value,
            "household": self.household,
            "effective": self.effective.isoformat(),
        }
        for f in fields(self)[len(_COMMON_FIELDS) :]:
            value = getattr(self, f.name)
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, Decimal):
                value = str(value)
            if value is not None:
                body[f.name] = value
        return body


_COMMON_FIELDS = ("event_id", "household", "effective")


@dataclass(frozen=True, slots=True, kw_only=True)
class _MemberEvent(_Event):
    """An event that happens to one member (by index among the declared members)."""

    member: int

    def __post_init__(self) -> None:
        _Event.__post_init__(self)
        _check_member(self.member)


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomeChange(_MemberEvent):
    """A member's ``stream`` income, from the month of ``effective`` on: set to
    ``amount_fen`` a month, or moved by ``delta_fen`` a month (exactly one of the two)."""

    type: ClassVar[EventType] = EventType.INCOME_CHANGE
    stream: IncomeStream
    amount_fen: int | None = None
    delta_fen: int | None = None

    def __post_init__(self) -> None:
        _MemberEvent.__post_init__(self)
        if (self.amount_fen is None) == (self.delta_fen is None):
            raise FieldError("amount_fen", "give exactly one of amount_fen and delta_fen")
        if self.amount_fen is not None:
            _check_fen("amount_fen", self.amount_fen)
        if self.delta_fen is not None:
            _check_fen("delta_fen", self.delta_fen, signed=True)
            if self.delta_fen == 0:
                raise FieldError("delta_fen", "must not be 0 (an event that changes nothing)")


@dataclass(frozen=True, slots=True, kw_only=True)
class NewVehicle(_MemberEvent):
    """A vehicle registered to a member on ``effective``, worth ``value_fen``."""

    type: ClassVar[EventType] = EventType.NEW_VEHICLE
    kind: VehicleKind
    value_fen: int

    def __post_init__(self) -> None:
        _MemberEvent.__post_init__(self)
        _check_fen("value_fen", self.value_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewProperty(_MemberEvent):
    """Real estate registered to a member on ``effective``: ``area_m2`` (two decimals at
    most) worth ``value_fen``."""

    type: ClassVar[EventType] = EventType.NEW_PROPERTY
    kind: PropertyKind
    area_m2: Decimal
    value_fen: int

    def __post_init__(self) -> None:
        _MemberEvent.__post_init__(self)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class NewBusinessRegistration(_MemberEvent):
    """A business (市场主体) registered to a member on ``effective`` with ``capital_fen``
    registered capital. The sandbox names it."""

    type: ClassVar[EventType] = EventType.NEW_BUSINESS_REGISTRATION
    kind: BusinessKind
    capital_fen: int

    def __post_init__(self) -> None:
        _MemberEvent.__post_init__(self)
        _check_fen("capital_fen", self.capital_fen)


@dataclass(frozen=True, slots=True, kw_only=True)
class DepositChange(_MemberEvent):
    """A member's deposit account ``account`` (index among their deposits at the bank,
    0 by default) now holds ``balance_fen``; the next index opens a new account."""

    type: ClassVar[EventType] = EventType.DEPOSIT_CHANGE
    account: int = 0
    balance_fen: int

    def __post_init__(self) -> None:
        _MemberEvent.__post_init__(self)
        _check_fen("balance_fen", self.balance_fen)
        if isinstance(self.account, bool) or not 0 <= self.account <= MAX_ACCOUNT_INDEX:
            raise FieldError("account", f"must be an account index 0..{MAX_ACCOUNT_INDEX}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Death(_MemberEvent):
    """A member died on ``effective``: their 户籍 is cancelled (reason death) and income
    ends with that month."""

    type: ClassVar[EventType] = EventType.DEATH


@dataclass(frozen=True, slots=True, kw_only=True)
class Birth(_Event):
    """A child born on ``effective`` and registered on the household's 户籍."""

    type: ClassVar[EventType] = EventType.BIRTH
    male: bool
    relation: NewbornRelation = NewbornRelation.CHILD

    def __post_init__(self) -> None:
        _Event.__post_init__(self)
        if not isinstance(self.male, bool):
            raise FieldError("male", "must be true or false")


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberMovedOut(_MemberEvent):
    """A member moved out on ``effective``: off the household's 户籍, onto one of their
    own (a new household number in the same county)."""

    type: ClassVar[EventType] = EventType.MEMBER_MOVED_OUT


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

LIFE_EVENT_CLASSES: tuple[type[LifeEvent], ...] = (
    IncomeChange,
    NewVehicle,
    NewProperty,
    NewBusinessRegistration,
    DepositChange,
    Death,
    Birth,
    MemberMovedOut,
)
"""Every class of life event."""

EVENT_CLASSES: dict[EventType, type[LifeEvent]] = {cls.type: cls for cls in LIFE_EVENT_CLASSES}
"""The class of each event type."""
