"""Retention periods as dated region parameters: the value in force on the day a check
was done counts (a later change does not reach back), a day before a file's first value
takes today's, a region without a file keeps its data, and data naming no region is
kept by the shortest period of any region."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from verifier.policy import retention
from verifier.policy.params import Policy, check_policy_bytes
from verifier.policy.retention import (
    DataKind,
    expires_on,
    months_before,
    shortest_ever,
    shortest_in_force,
)

REGIONS = Path(retention.__file__).with_name("regions")
TODAY = date(2026, 11, 29)


def _policy(code: str, extra: str = "") -> Policy:
    data = (REGIONS / "370322.toml").read_bytes().replace(b'"370322"', f'"{code}"'.encode())
    problems, policy = check_policy_bytes(data + extra.encode(), f"{code}.toml")
    assert not problems and policy is not None
    return policy


@pytest.fixture
def shorter_from_2027(monkeypatch: pytest.MonkeyPatch) -> None:
    """370322 as shipped, but reports kept 24 months for checks done from 2027; and a
    second region keeping cached answers 7 days."""
    changed = _policy(
        "370322",
        """
[[parameters.retention_report_months.entries]]
from = 2027-01-01
value = 24
reference = { status = "example", note = "示例" }
""",
    )
    other = (REGIONS / "370322.toml").read_text(encoding="utf-8")
    other = other.replace('"370322"', '"370305"')
    cache_at = other.index("[parameters.retention_cache_days]")
    other = other[:cache_at] + other[cache_at:].replace("value = 30", "value = 7", 1)
    problems, seven = check_policy_bytes(other.encode(), "370305.toml")
    assert not problems and seven is not None
    policies = {"370322": changed, "370305": seven}
    monkeypatch.setattr(retention, "policy_or_none", policies.get)
    monkeypatch.setattr(retention, "packaged_regions", lambda: tuple(policies))


def test_shipped_periods_count_from_the_day_a_check_was_done() -> None:
    assert expires_on("370322", DataKind.REPORTS, date(2025, 3, 31), TODAY) == date(2030, 3, 31)
    assert expires_on("370322", DataKind.SOURCE_RECORDS, date(2024, 2, 29), TODAY) == date(
        2025, 2, 28
    )
    assert expires_on("370322", DataKind.CACHE, date(2026, 11, 1), TODAY) == date(2026, 12, 1)
    # A county without its own file takes its city's or province's; none at all keeps.
    assert expires_on("110101", DataKind.REPORTS, date(2020, 1, 1), TODAY) is None


def test_the_value_in_force_that_day_counts(shorter_from_2027: None) -> None:
    # Done before the change: 60 months; after it: 24.
    assert expires_on("370322", DataKind.REPORTS, date(2026, 12, 31), TODAY) == date(2031, 12, 31)
    assert expires_on("370322", DataKind.REPORTS, date(2027, 1, 1), TODAY) == date(2029, 1, 1)
    # Before the file's first value (2024-01-01): the value in force today.
    assert expires_on("370322", DataKind.REPORTS, date(2023, 6, 1), TODAY) == date(2028, 6, 1)


def test_data_naming_no_region_is_kept_by_the_shortest_period(shorter_from_2027: None) -> None:
    assert shortest_in_force(DataKind.CACHE, TODAY) == 7
    assert shortest_in_force(DataKind.WEBHOOKS, TODAY) == 12
    # In force today 60 months everywhere; but a check done from 2027 is due after 24.
    assert shortest_in_force(DataKind.REPORTS, TODAY) == 60
    assert shortest_ever(DataKind.REPORTS) == 24


def test_shipped_shortest_periods() -> None:
    assert shortest_ever(DataKind.REPORTS) == 60
    assert shortest_ever(DataKind.SOURCE_RECORDS) == 12
    assert shortest_ever(DataKind.CACHE) == 30


def test_months_before_keeps_to_the_months_last_day() -> None:
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 12) == date(2025, 1, 15)
    assert months_before(date(2024, 2, 29), 12) == date(2023, 2, 28)
