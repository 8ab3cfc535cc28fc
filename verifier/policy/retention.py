"""Retention periods (档案 and 安全保密) as dated region parameters.

``retention_report_months``, ``retention_source_records_months`` and
``retention_cache_days`` in a region's policy file say how long each kind of personal data
gathered for a check is kept. The value that counts is the one in force on the day the
data's period starts (a check's completion, an answer's fetching); for a day before the
file's first value, the one in force today. A region without the parameter, or without a
policy file, keeps that kind of data: nothing is purged on a guess.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from enum import StrEnum

from verifier.domain.roster.due import add_months
from verifier.policy.params import Policy, packaged_regions, policy_or_none
from verifier.policy.specs import P
from verifier.policy.typed import OptionalParam

__all__ = [
    "DataKind",
    "cache_expiry_days",
    "expires_on",
    "months_before",
    "shortest_ever",
    "shortest_in_force",
]


class DataKind(StrEnum):
    """A kind of personal data with its own retention period."""

    REPORTS = "reports"
    """Sealed report versions and the check's sealed request (with raw ID numbers)."""
    SOURCE_RECORDS = "source_records"
    """The departments' records and pending tickets sealed with each outcome."""
    CACHE = "cache"
    """Cached answers, reused by later checks within the cache window."""
    WEBHOOKS = "webhooks"
    """Webhook events every subscriber acknowledged, with their delivery history. They
    carry identifiers only; they are kept as long as the shortest source-records period."""
    FEDERATION_ANSWERS = "federation_answers"
    """Answers given to federation peers (signed fragments holding members' records), kept
    so a peer's retry gets the same answer; as long as the shortest source-records period
    (they name the requester's check, not a region's)."""


_PARAMS: dict[DataKind, OptionalParam[int]] = {
    DataKind.REPORTS: P.retention_report_months,
    DataKind.SOURCE_RECORDS: P.retention_source_records_months,
    DataKind.CACHE: P.retention_cache_days,
    DataKind.WEBHOOKS: P.retention_source_records_months,
    DataKind.FEDERATION_ANSWERS: P.retention_source_records_months,
}


def _value(policy: Policy, kind: DataKind, day: date, today: date) -> int | None:
    param = _PARAMS[kind]
    for when in (day, today):
        if policy.has(param.name, when):
            return param.convert(policy.entry(param.name, when).value)
    return None


def expires_on(region: str, kind: DataKind, day: date, today: date) -> date | None:
    """The first day ``kind`` data of ``region`` whose period started on ``day`` may be
    purged; ``None`` when the region states no period for it."""
    policy = policy_or_none(region)
    if policy is None:
        return None
    value = _value(policy, kind, day, today)
    if value is None:
        return None
    if kind is DataKind.CACHE:
        return day + timedelta(days=value)
    return add_months(day, value)


def shortest_in_force(kind: DataKind, today: date) -> int | None:
    """The shortest period of ``kind`` in force ``today`` in any packaged region, for data
    that names no region (a cached answer: one person may be checked in several; a
    webhook event): the strictest rule holds for all. ``None`` when no region states one."""
    values = [
        v
        for region in packaged_regions()
        if (policy := policy_or_none(region)) is not None
        and (v := _value(policy, kind, today, today)) is not None
    ]
    return min(values) if values else None


def shortest_ever(kind: DataKind) -> int | None:
    """The shortest ``kind`` period any packaged region states on any day: no data whose
    period started more recently than that can be due, whatever its region and day.
    ``None`` when no region states one (then nothing of ``kind`` is ever purged)."""
    param = _PARAMS[kind]
    values = [
        param.convert(e.value)
        for region in packaged_regions()
        if (policy := policy_or_none(region)) is not None
        and (stated := policy.parameters.get(param.name)) is not None
        for e in stated.entries
    ]
    return min(values) if values else None


def cache_expiry_days(today: date) -> int | None:
    """How many days a cached answer is kept (:func:`shortest_in_force`)."""
    return shortest_in_force(DataKind.CACHE, today)


def months_before(day: date, months: int) -> date:
    """The day ``months`` calendar months before ``day`` (the month's last day when it
    has no corresponding day)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))
