"""The adapter contract: what a department source is asked and what it answers.

Department IT teams implement :class:`Adapter`; hedui calls it. Everything here is
plain Python (dataclasses, enums); no gRPC, protobuf or database code is involved.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from hedui_sdk.masking import mask_id_number, mask_name
from hedui_sdk.records import Record


class SourceKind(StrEnum):
    """The department sources a 核对 covers (the seed documents' 核对内容)."""

    HOUSEHOLD_REGISTRATION = "household_registration"
    """户籍: household registration (members and relations)."""
    TAX = "tax"
    """纳税: income reported to the tax authority."""
    SOCIAL_INSURANCE = "social_insurance"
    """社会保险: contributions, pensions and benefits paid."""
    REAL_ESTATE = "real_estate"
    """不动产: registered real estate."""
    BUSINESS_REGISTRATION = "business_registration"
    """市场主体登记: businesses owned or run."""
    PROVIDENT_FUND = "provident_fund"
    """住房公积金: housing provident fund balance and deposits."""
    VEHICLE = "vehicle"
    """车船: motor vehicles and vessels."""
    BANK = "bank"
    """银行存款: bank deposits (often answered asynchronously)."""
    SECURITIES = "securities"
    """证券: securities accounts."""
    COMMERCIAL_INSURANCE = "commercial_insurance"
    """商业保险: commercial insurance policies with cash value."""
    INTERNET_FINANCE = "internet_finance"
    """互联网金融资产: internet finance assets (wealth products, balances)."""
    MEDICAL_INSURANCE = "medical_insurance"
    """医保: medical bills with the individually paid part, certified serious diagnoses."""
    DISABILITY = "disability"
    """残联: disability certificates (残疾人证), their type and grade."""
    EDUCATION = "education"
    """教育: school enrolment at each level and the fees paid."""
    EMPLOYMENT = "employment"
    """人社 就业: employment, unemployment registration and unemployment benefits."""
    CIVIL_AFFAIRS = "civil_affairs"
    """民政: marriage, divorce and death (婚姻登记, 殡葬) registration."""


class IdType(StrEnum):
    """Kinds of identity document a subject can be named by."""

    RESIDENT_ID = "resident_id"
    """居民身份证: 18 characters, GB 11643 check digit."""
    PASSPORT = "passport"
    """护照."""
    HK_MACAO_PERMIT = "hk_macao_permit"
    """港澳居民居住证/往来通行证."""
    TAIWAN_PERMIT = "taiwan_permit"
    """台湾居民居住证/往来通行证."""
    FOREIGN_PERMANENT_RESIDENT = "foreign_permanent_resident"
    """外国人永久居留身份证."""


@dataclass(frozen=True, slots=True)
class Subject:
    """A person a source is asked about.

    ``repr()`` and ``str()`` are masked so that a subject printed into a log line or an
    exception message never shows the raw ID number or the full name.
    """

    id_type: IdType
    id_number: str
    name: str

    def __repr__(self) -> str:
        return (
            f"Subject(id_type={self.id_type.value}, id_number={mask_id_number(self.id_number)},"
            f" name={mask_name(self.name)})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Window:
    """The assessment window, both dates inclusive."""

    start: date
    end: date


@dataclass(frozen=True, slots=True)
class SourceQuery:
    """One question to one source about one subject.

    ``deadline`` is a :func:`time.monotonic` instant after which hedui no longer waits;
    use :meth:`remaining` to size HTTP timeouts. ``request_id`` is an opaque correlation
    id (never personal data) to forward to the department for its own logs.
    """

    subject: Subject
    window: Window
    region: str
    purposes: tuple[str, ...]
    request_id: str
    deadline: float | None = None

    def remaining(self, default: float = 30.0) -> float:
        """Seconds left before the deadline (``default`` when there is none), never negative."""
        if self.deadline is None:
            return default
        return max(0.0, self.deadline - time.monotonic())


class ResultStatus(StrEnum):
    """What a source said about a subject."""

    FOUND = "FOUND"
    """The source holds records about the subject; they are in ``records``."""
    NOT_FOUND = "NOT_FOUND"
    """The source answered and holds no record: a real "no record", never a failure."""
    PENDING = "PENDING"
    """The source accepted the question and will answer later; poll with ``ticket``."""


@dataclass(frozen=True, slots=True)
class SourceResult:
    """A source's answer. Build it with :meth:`found`, :meth:`not_found` or :meth:`pending`."""

    status: ResultStatus
    as_of: datetime | None = None
    records: tuple[Record, ...] = ()
    ticket: str | None = None
    retry_after: float | None = None

    @classmethod
    def found(cls, records: tuple[Record, ...] | list[Record], as_of: datetime) -> SourceResult:
        """The source holds ``records`` as of ``as_of`` (an aware UTC datetime)."""
        recs = tuple(records)
        if not recs:
            raise ValueError("a FOUND result needs at least one record; use not_found()")
        return cls(status=ResultStatus.FOUND, as_of=as_of, records=recs)

    @classmethod
    def not_found(cls, as_of: datetime) -> SourceResult:
        """The source answered and has no record about the subject."""
        return cls(status=ResultStatus.NOT_FOUND, as_of=as_of)

    @classmethod
    def pending(cls, ticket: str, retry_after: float) -> SourceResult:
        """The source will answer later: poll ``ticket`` after ``retry_after`` seconds."""
        if not ticket:
            raise ValueError("a PENDING result needs a ticket")
        return cls(status=ResultStatus.PENDING, ticket=ticket, retry_after=retry_after)


class Secret:
    """A credential. Its ``repr``/``str`` never show the value; call :meth:`reveal` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value. Pass it straight to the transport; never log or store it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class AdapterSettings:
    """What hedui's configuration gives an adapter when it is created.

    ``base_url`` is the department endpoint, ``credentials`` the secrets read from the
    environment or files named in config, ``options`` any other per-source strings.
    """

    base_url: str
    credentials: Mapping[str, Secret] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0


@runtime_checkable
class Adapter(Protocol):
    """The whole contract between hedui and one department source.

    Attributes ``name`` (unique, e.g. ``"tax-gateway"``), ``version`` (the adapter's own
    version, recorded in every report) and ``source`` (a :class:`SourceKind`).

    Rules:

    * "no record" is ``SourceResult.not_found``; a failure is an exception. Never turn a
      failure into "no record": that can deny a family its assistance.
    * Raise :class:`~hedui_sdk.errors.TransientSourceError` for what may succeed on retry
      (timeouts, 5xx, 429), :class:`~hedui_sdk.errors.PermanentSourceError` for what will
      not, :class:`~hedui_sdk.errors.SourceDenied` when the department refuses.
    * Money is integer fen. Every record carries its :class:`~hedui_sdk.records.Provenance`.
    * Honour ``query.deadline`` and cancellation (``asyncio.CancelledError`` must propagate).
    * Never put an ID number, name or credential into a log line or an exception message.
    """

    name: str
    version: str
    source: SourceKind

    async def query(self, q: SourceQuery) -> SourceResult:
        """Ask the source about ``q.subject``; may return ``SourceResult.pending``."""
        ...

    async def poll(self, ticket: str) -> SourceResult:
        """Ask again about a ticket an earlier ``query`` returned (asynchronous sources)."""
        ...

    async def aclose(self) -> None:
        """Release connections. Called once when hedui stops using the adapter."""
        ...
