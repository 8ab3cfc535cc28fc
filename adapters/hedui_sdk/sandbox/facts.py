"""What a sandbox department holds about a person, before it is put on the wire.

These are the department's own records: they carry the department's ``record_id`` but no
hedui provenance (that is added by the adapter that fetches them). Money is integer fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from hedui_sdk.records import AssetCategory, CancellationReason, IncomeCategory, RegisteredMember
from hedui_sdk.sandbox.evidence_facts import EvidenceFact, evidence_overlaps


@dataclass(frozen=True, slots=True)
class IncomeFact:
    """Income paid over a period (a wage month, a business quarter, a pension month)."""

    record_id: str
    category: IncomeCategory
    kind: str
    period_start: date
    period_end: date
    amount_fen: int
    payer: str


@dataclass(frozen=True, slots=True)
class AssetFact:
    """An asset held now: a flat, a car, a deposit account, a business."""

    record_id: str
    category: AssetCategory
    kind: str
    value_fen: int
    count: int = 1
    area_m2: Decimal | None = None
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ContributionFact:
    """A social insurance or provident fund contribution period."""

    record_id: str
    scheme: str
    period_start: date
    period_end: date
    base_fen: int
    paid_fen: int
    employer: str = ""


RegisteredPerson = RegisteredMember
"""A person listed on a household registration (户口簿): the department lists people as
the SDK record does."""


@dataclass(frozen=True, slots=True)
class RegistrationFact:
    """A household registration (户口簿): its number, region and the people on it.

    ``cancelled_on`` is set on the record of a person whose registration was cancelled
    (注销): ``cancel_reason`` then says why (a death), and ``members`` lists that person
    alone, as the department's record of them.
    """

    record_id: str
    household_number: str
    region_code: str
    members: tuple[RegisteredPerson, ...]
    cancelled_on: date | None = None
    cancel_reason: CancellationReason | None = None


Fact = IncomeFact | AssetFact | ContributionFact | RegistrationFact | EvidenceFact
"""Anything a sandbox department can hold about a person."""


def dated(fact: Fact) -> bool:
    """Whether the fact covers a period (and so is filtered by the assessment window)."""
    return isinstance(fact, IncomeFact | ContributionFact)


def overlaps(fact: Fact, start: date, end: date) -> bool:
    """Whether a fact belongs in an answer for the window ``start``..``end`` (inclusive).

    Snapshots (assets, registrations) always do; periods do when they overlap the window.
    """
    if isinstance(fact, IncomeFact | ContributionFact):
        return fact.period_start <= end and fact.period_end >= start
    if isinstance(fact, AssetFact | RegistrationFact):
        return True
    return evidence_overlaps(fact, start, end)
