"""An alert's risk level and act-by date, from the region's dated parameters.

A region's policy file lists which reason codes are high, medium and low risk
(``alert_high_risk_reasons`` …) and how many working days each level gives staff to act
(``alert_high_risk_working_days`` …), counted on China's holiday calendar from the day the
alert is raised. A change code the region lists at no level raises no alert.

Where a region's file states no alert parameters on that day, nothing is made up: the
alert is raised HIGH with no deadline, and its basis says why (a death must not go
unseen because a county has not yet set its parameters).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from verifier import policy
from verifier.domain.alerts import ALWAYS_RAISED, RiskLevel
from verifier.domain.workdays import add_working_days
from verifier.policy.params import Entry

RISK_PARAMETER = "alert_{level}_risk_reasons"
DAYS_PARAMETER = "alert_{level}_risk_working_days"
LEVELS = (RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)


@dataclass(frozen=True, slots=True)
class AlertTerms:
    risk_level: RiskLevel
    act_by: date | None
    basis: dict[str, Any]
    """The parameters used, each with its date in force and its legal reference (JSON)."""


@functools.lru_cache(maxsize=64)
def _packaged(region: str) -> policy.Policy:
    return policy.load_policy(region)


def _cited(name: str, entry: Entry) -> dict[str, Any]:
    return {
        "parameter": name,
        "from": entry.start.isoformat(),
        "status": entry.reference.status.value,
        "reference": entry.reference.cite(),
    }


class AlertRules:
    """Risk levels and deadlines per reason code, per region, per day."""

    def __init__(self, policy_for: Callable[[str], policy.Policy] = _packaged) -> None:
        self._policy_for = policy_for

    def terms(self, region: str, reason: str, day: date) -> AlertTerms | None:
        """The terms of an alert raised on ``day`` for ``reason`` in ``region``, or None
        when the region raises no alert for that reason (an unlisted change code)."""
        try:
            pol = self._policy_for(region)
        except policy.PolicyError:
            return self._unparameterized(region, day, "no policy file serves this region")
        names = [RISK_PARAMETER.format(level=lvl.value) for lvl in LEVELS]
        if not any(pol.has(n, day) for n in names):
            return self._unparameterized(region, day, "the region states no alert parameters")
        for level, name in zip(LEVELS, names, strict=True):
            if not pol.has(name, day):
                continue
            entry = pol.entry(name, day)
            if not isinstance(entry.value, tuple) or reason not in entry.value:
                continue
            days_name = DAYS_PARAMETER.format(level=level.value)
            days_entry = pol.entry(days_name, day)
            assert isinstance(days_entry.value, int)
            return AlertTerms(
                level,
                add_working_days(day, days_entry.value),
                {
                    "risk": _cited(name, entry),
                    "deadline": {**_cited(days_name, days_entry), "working_days": days_entry.value},
                },
            )
        if reason in ALWAYS_RAISED:
            return self._unparameterized(region, day, "the region lists no risk level for it")
        return None

    @staticmethod
    def _unparameterized(region: str, day: date, why: str) -> AlertTerms:
        return AlertTerms(
            RiskLevel.HIGH,
            None,
            {"unparameterized": f"{why} ({region}, {day.isoformat()}): raised high, no deadline"},
        )


__all__ = ["DAYS_PARAMETER", "LEVELS", "RISK_PARAMETER", "AlertRules", "AlertTerms"]
