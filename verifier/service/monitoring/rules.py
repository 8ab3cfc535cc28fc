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
from verifier.policy.snapshot import Snapshot
from verifier.policy.specs import P
from verifier.policy.typed import Named

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


def _cited(snap: Snapshot, param: Named) -> dict[str, Any]:
    entry = snap.entry(param.name)
    return {
        "parameter": param.name,
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
        snap = Snapshot(pol, day)
        if not any(snap.has(p.name) for p in P.alert_risk_reasons):
            return self._unparameterized(region, day, "the region states no alert parameters")
        for level in LEVELS:
            risk = P.alert_risk_reasons[level.value]
            listed = snap.find(risk)
            if listed is None or reason not in listed:
                continue
            # The six alert parameters go together (the file checker refuses a file
            # without them all), so a level's working days are in force with its reasons.
            deadline = P.alert_risk_working_days[level.value]
            days = snap.require(deadline)
            return AlertTerms(
                level,
                add_working_days(day, days),
                {
                    "risk": _cited(snap, risk),
                    "deadline": {**_cited(snap, deadline), "working_days": days},
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


__all__ = ["LEVELS", "AlertRules", "AlertTerms"]
