"""Raising alerts with the region's terms: the one helper every source of alerts uses
(change detection, warning imports, the roster's re-check scheduler).

Each call runs inside the caller's unit of work, so the alert, its ``alert_raised``
audit entry (and its webhook event) commit with whatever raised it, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from audit.entry import Actor
from hedui_sdk import Subject
from verifier.domain.alerts import (
    CHINA,
    REAUTHORIZATION_NEEDED,
    AlertDraft,
    AlertKind,
    RaisedAlert,
)
from verifier.domain.ports import UnitOfWork
from verifier.service.monitoring.rules import AlertRules

SYSTEM_ACTOR = Actor(system="hedui", user="", role="system", region="")
"""Alerts hedui raises itself (changes found, re-checks that could not run)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AlertRaiser:
    def __init__(
        self, rules: AlertRules | None = None, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.rules = rules or AlertRules()
        self._clock = clock

    async def raise_for(
        self,
        uow: UnitOfWork,
        *,
        kind: AlertKind,
        reason: str,
        region: str,
        dedup_key: str,
        actor: Actor = SYSTEM_ACTOR,
        household_ref: str = "",
        subject_ref: str = "",
        verification_id: str = "",
        report_version: int = 0,
        case_id: str = "",
        request_id: str = "",
        details: Mapping[str, Any] | None = None,
        person: Subject | None = None,
        now: datetime | None = None,
    ) -> RaisedAlert | None:
        """Raise an alert for ``reason`` on the region's terms in force today (China's
        date); None when the region raises none for that reason."""
        at = now or self._clock()
        terms = self.rules.terms(region, reason, at.astimezone(CHINA).date())
        if terms is None:
            return None
        draft = AlertDraft(
            kind=kind,
            reason=reason,
            region=region,
            risk_level=terms.risk_level,
            act_by=terms.act_by,
            dedup_key=dedup_key,
            household_ref=household_ref,
            subject_ref=subject_ref,
            verification_id=verification_id,
            report_version=report_version,
            details={**(details or {}), "basis": terms.basis},
            person=person,
        )
        return await uow.alerts.raise_alert(
            draft, actor=actor, now=at, request_id=request_id, case_id=case_id
        )

    async def reauthorization_needed(
        self,
        uow: UnitOfWork,
        *,
        region: str,
        household_ref: str,
        authorization_id: str,
        cycle: str,
        why: str,
        case_id: str = "",
        now: datetime | None = None,
    ) -> RaisedAlert:
        """A scheduled re-check of a household was not run because its 授权书
        (``authorization_id``) expired or was revoked (``why``: ``expired``, ``revoked``,
        ``missing``). ``cycle`` names the re-check (e.g. its due date): one alert per
        household, 授权书 and cycle, however often the scheduler retries."""
        raised = await self.raise_for(
            uow,
            kind=AlertKind.REAUTHORIZATION,
            reason=REAUTHORIZATION_NEEDED,
            region=region,
            dedup_key=f"reauthorization:{region}:{household_ref}:{authorization_id}:{cycle}",
            household_ref=household_ref,
            case_id=case_id,
            details={"authorization_id": authorization_id, "cycle": cycle, "why": why},
            now=now,
        )
        # REAUTHORIZATION_NEEDED is always raised (see AlertRules).
        assert raised is not None
        return raised


__all__ = ["SYSTEM_ACTOR", "AlertRaiser"]
