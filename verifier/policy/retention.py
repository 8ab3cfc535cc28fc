"""Retention periods (档案 and 安全保密) as dated region parameters.

``retention_report_months``, ``retention_source_records_months`` and
``retention_cache_days`` in a region's policy file say how long each kind of personal data
gathered for a check is kept. The value that counts is the one in force on the day the
data's period starts (a check's completion, an answer's fetching); for a day before the
file's first value, the one in force today. A region without the parameter, or without a
policy file, keeps that kind of data: nothing is purged on a guess.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from enum import StrEnum

from verifier.domain.roster.due import add_months
from verifier.policy.params import Policy, PolicyError, load_policy, packaged_regions
from verifier.policy.specs import P
from verifier.policy.typed import OptionalParam

__all__ = ["DataKind", "cache_expiry_days", "expires_on"]


class DataKind(StrEnum):
    """A kind of personal data with its own retention period."""

    REPORTS = "reports"
    """Sealed report versions and the check's sealed request (with raw ID numbers)."""
    SOURCE_RECORDS = "source_records"
    """The departments' records and pending tickets sealed with each outcome."""
    CACHE = "cache"
    """Cached answers, reused by later checks within the cache window."""


_PARAMS: dict[DataKind, OptionalParam[int]] = {
    DataKind.REPORTS: P.retention_report_months,
    DataKind.SOURCE_RECORDS: P.retention_source_records_months,
    DataKind.CACHE: P.retention_cache_days,
}


@functools.lru_cache(maxsize=64)
def _policy(region: str) -> Policy | None:
    try:
        return load_policy(region)
    except PolicyError:
        return None


def _value(policy: Policy, kind: DataKind, day: date, today: date) -> int | None:
    param = _PARAMS[kind]
    for when in (day, today):
        if policy.has(param.name, when):
            return param.convert(policy.entry(param.name, when).value)
    return None


def expires_on(region: str, kind: DataKind, day: date, today: date) -> date | None:
    """The first day ``kind`` data of ``region`` whose period started on ``day`` may be
    purged; ``None`` when the region states no period for it."""
    policy = _policy(region)
    if policy is None:
        return None
    value = _value(policy, kind, day, today)
    if value is None:
        return None
    if kind is DataKind.CACHE:
        return day + timedelta(days=value)
    return add_months(day, value)


def cache_expiry_days(today: date) -> int | None:
    """How many days a cached answer is kept: the shortest period in force ``today`` of
    any packaged region. A cached answer names no region (one person may be checked in
    several), so the strictest rule holds for all. ``None`` when no region states one."""
    days = [
        v
        for region in packaged_regions()
        if (policy := _policy(region)) is not None
        and (v := _value(policy, DataKind.CACHE, today, today)) is not None
    ]
    return min(days) if days else None
