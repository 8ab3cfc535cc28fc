"""`[batches]`, `[time_limits]` and a source's `batch_reserve`: defaults, bounds, unknown keys."""

from __future__ import annotations

from typing import Any

import pytest

from verifier.config import BatchesConfig, ConfigError, TimeLimitsConfig, parse_config


def test_defaults_and_values() -> None:
    cfg = parse_config({})
    assert cfg.batches == BatchesConfig() and cfg.time_limits == TimeLimitsConfig()
    cfg = parse_config(
        {
            "batches": {"runner": False, "concurrency": 4, "lease_seconds": 30, "interval": 0.5},
            "time_limits": {"urgent_first_report_seconds": 2, "overdue_scan_seconds": 10},
            "sources": {"tax": {"base_url": "http://tax", "batch_reserve": 0.5}},
        }
    )
    assert cfg.batches == BatchesConfig(False, 4, 30.0, 0.5)
    assert cfg.time_limits == TimeLimitsConfig(2.0, 10.0)
    assert [s.policy.batch_reserve for s in cfg.sources.values()] == [0.5]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"batches": {"concurrency": 0}}, "batches.concurrency"),
        ({"batches": {"concurrency": "8"}}, "batches.concurrency"),
        ({"batches": {"lease_seconds": 1}}, "batches.lease_seconds"),
        ({"batches": {"workers": 2}}, "batches.workers: unknown key"),
        ({"time_limits": {"urgent_first_report_seconds": 0}}, "urgent_first_report_seconds"),
        ({"time_limits": {"due_days": 20}}, "time_limits.due_days: unknown key"),
        ({"sources": {"tax": {"base_url": "http://t", "batch_reserve": 1}}}, "batch_reserve"),
    ],
)
def test_bad_values_are_refused_naming_the_key(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(doc)
