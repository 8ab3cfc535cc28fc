"""Whether a record keeps the SDK contract: the one check hedui and the conformance kit share.

hedui runs :func:`record_problems` on every record an adapter returns, and refuses the
whole answer (the source is reported FAILED) when any problem is found; the conformance
kit runs the same check so that a team learns of a problem from its own tests first.
Problems name the field and the type found, never a value: values can be personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal

from hedui_sdk.records import (
    AssetCategory,
    AssetRecord,
    CancellationReason,
    ContributionRecord,
    HouseholdRegistrationRecord,
    IncomeCategory,
    IncomeRecord,
    Provenance,
    RegisteredMember,
    RegistrationStatus,
)
from hedui_sdk.validation_evidence import (
    EVIDENCE_RECORD_TYPES,
    evidence_money_fields,
    evidence_problems,
)

RECORD_TYPES: tuple[type, ...] = (
    IncomeRecord,
    AssetRecord,
    ContributionRecord,
    HouseholdRegistrationRecord,
    *EVIDENCE_RECORD_TYPES,
)
"""The record types an adapter may return (exactly these classes, no look-alikes)."""

MAX_FEN = 2**63 - 1
"""Money travels as int64 fen on hedui's wire: larger amounts cannot be reported."""


def money_fields(record: object) -> dict[str, object]:
    """The fields of a record that must hold integer fen (and ``count``, a whole number)."""
    if isinstance(record, IncomeRecord):
        return {"amount_fen": record.amount_fen}
    if isinstance(record, AssetRecord):
        return {"value_fen": record.value_fen, "count": record.count}
    if isinstance(record, ContributionRecord):
        return {"base_fen": record.base_fen, "paid_fen": record.paid_fen}
    return evidence_money_fields(record)


def is_utc(value: object) -> bool:
    """Whether ``value`` is an aware datetime at UTC (offset zero)."""
    return isinstance(value, datetime) and value.utcoffset() == timedelta(0)


def record_problems(record: object, source: str) -> list[str]:
    """What is wrong with ``record`` as an answer of ``source`` (a SourceKind value).

    An empty list means the record keeps the contract: an SDK record type with every
    field of its declared type (categories as the SDK enums, dates as ``date``, money
    as ``int`` fen within int64, ``area_m2`` a ``Decimal``, ``details`` str → str) and
    a full :class:`~hedui_sdk.records.Provenance` naming ``source``.
    """
    if type(record) not in RECORD_TYPES:
        return [f"{type(record).__name__} is not an SDK record type"]
    problems = [
        f"{name} must be an int (fen), not {type(value).__name__}"
        for name, value in money_fields(record).items()
        if type(value) is not int
    ]
    problems += [
        f"{name} is beyond what int64 fen can carry"
        for name, value in money_fields(record).items()
        if type(value) is int and abs(value) > MAX_FEN
    ]
    if isinstance(record, IncomeRecord):
        problems += _enum(record.category, IncomeCategory, "category")
        problems += _strings(record, "kind", "payer")
        problems += _period(record.period_start, record.period_end)
    elif isinstance(record, AssetRecord):
        problems += _enum(record.category, AssetCategory, "category")
        problems += _strings(record, "kind")
        if type(record.count) is int and record.count < 0:
            problems.append("count must not be negative")
        problems += _area(record.area_m2)
        problems += _details(record.details)
    elif isinstance(record, ContributionRecord):
        problems += _strings(record, "scheme", "employer")
        problems += _period(record.period_start, record.period_end)
    elif isinstance(record, HouseholdRegistrationRecord):
        problems += _strings(record, "region_code", "household_number")
        problems += _members(record.members)
        problems += _registration_status(record)
    else:
        problems += evidence_problems(record)
    return problems + _provenance(getattr(record, "provenance", None), source)


def _enum(value: object, kind: type, name: str) -> list[str]:
    if isinstance(value, kind):
        return []
    return [f"{name} must be a hedui_sdk.{kind.__name__}, not {type(value).__name__}"]


def _strings(record: object, *names: str) -> list[str]:
    return [
        f"{name} must be a str, not {type(getattr(record, name)).__name__}"
        for name in names
        if not isinstance(getattr(record, name), str)
    ]


def _period(start: object, end: object) -> list[str]:
    problems = [
        f"{name} must be a datetime.date, not {type(value).__name__}"
        for name, value in (("period_start", start), ("period_end", end))
        # A datetime is a date too, but a period is made of days.
        if type(value) is not date
    ]
    if not problems and start > end:  # type: ignore[operator]
        problems.append("period_start is after period_end")
    return problems


def _area(area: object) -> list[str]:
    if area is None:
        return []
    if not isinstance(area, Decimal):
        return [f"area_m2 must be a Decimal or None, not {type(area).__name__}"]
    if not area.is_finite() or area < 0:
        return ["area_m2 must be a finite, non-negative Decimal"]
    return []


def _details(details: object) -> list[str]:
    if not isinstance(details, Mapping):
        return [f"details must be a mapping of str to str, not {type(details).__name__}"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in details.items()):
        return ["details must map str to str"]
    return []


def _members(members: object) -> list[str]:
    if not isinstance(members, tuple | list):
        return [f"members must be a tuple, not {type(members).__name__}"]
    for i, member in enumerate(members):
        if not isinstance(member, RegisteredMember):
            return [f"members[{i}] must be a hedui_sdk.RegisteredMember"]
        bad = _strings(member, "id_type", "id_number", "name", "relation")
        if bad:
            return [f"members[{i}].{problem}" for problem in bad]
    return []


def _registration_status(record: HouseholdRegistrationRecord) -> list[str]:
    """A status of the SDK's enum; a cancelled registration says why, an active one carries
    neither a reason nor a day of cancellation."""
    problems = _enum(record.status, RegistrationStatus, "status")
    reason, day = record.cancel_reason, record.cancelled_on
    if record.status is RegistrationStatus.CANCELLED:
        problems += _enum(reason, CancellationReason, "cancel_reason")
    elif record.status is RegistrationStatus.ACTIVE and (reason is not None or day is not None):
        problems.append("cancel_reason and cancelled_on must be None on an active registration")
    # A datetime is a date too, but a cancellation is recorded by the day.
    if day is not None and type(day) is not date:
        problems.append(f"cancelled_on must be a datetime.date or None, not {type(day).__name__}")
    return problems


def _provenance(prov: object, source: str) -> list[str]:
    # Typed as Provenance, but an adapter may put anything there at run time.
    if not isinstance(prov, Provenance):
        return ["provenance must be a hedui_sdk.Provenance"]
    problems = []
    if prov.source != source:
        problems.append(f"provenance.source is {prov.source!r}, not {source!r}")
    if not isinstance(prov.adapter, str) or not prov.adapter:
        problems.append("provenance.adapter must be a non-empty string")
    if not isinstance(prov.adapter_version, str) or not prov.adapter_version:
        problems.append("provenance.adapter_version must be a non-empty string")
    if not isinstance(prov.record_id, str) or not prov.record_id:
        problems.append("provenance.record_id must be a non-empty string")
    if not is_utc(prov.as_of):
        problems.append("provenance.as_of must be an aware UTC datetime")
    return problems
