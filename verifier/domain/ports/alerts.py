"""The alerts repository: alerts and the outreach ledger (台账), with their history.

:meth:`AlertRepository.raise_alert` is the one way an alert comes in, whoever raises it
(change detection, warning imports, the roster's re-check scheduler): it stores the alert
once per dedup key and appends its ``alert_raised`` audit entry in the same unit of work,
so no alert exists without its entry, nor without its ``alert.raised`` webhook event.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from audit.entry import Actor, EntryDraft
from hedui_sdk import Subject
from verifier.domain.alerts.model import (
    AlertDraft,
    AlertEvent,
    AlertQuery,
    AlertRecord,
    AlertState,
    RaisedAlert,
    ReferralProgram,
    Resolution,
)
from verifier.domain.ports.audit import AuditRepository
from verifier.domain.ports.outbox import OutboxRepository
from verifier.domain.vocabulary import AuditAction
from verifier.domain.webhooks import alert_raised


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One step of an alert's lifecycle, written with its history event."""

    state: AlertState
    owner: str
    event: AlertEvent
    resolution: Resolution | None = None
    referred_program: ReferralProgram | None = None


class AlertRepository(abc.ABC):
    def __init__(self, audit: AuditRepository, outbox: OutboxRepository) -> None:
        self._audit = audit
        self._outbox = outbox

    async def raise_alert(
        self,
        draft: AlertDraft,
        *,
        actor: Actor,
        now: datetime,
        request_id: str = "",
        case_id: str = "",
    ) -> RaisedAlert:
        """Store ``draft`` as a new OPEN alert with a ``raised`` history event, and append
        its ``alert_raised`` audit entry and its ``alert.raised`` webhook event, in this
        unit of work. When an alert with the same ``dedup_key`` is stored already, nothing
        is written and that alert is returned (``created`` False)."""
        raised = await self.add(draft, now, actor)
        if raised.created:
            a = raised.alert
            await self._audit.append(
                [
                    EntryDraft(
                        actor=actor,
                        action=AuditAction.ALERT_RAISED.value,
                        outcome="recorded",
                        case_id=case_id,
                        verification_id=a.verification_id,
                        subject_refs=tuple(r for r in (a.household_ref, a.subject_ref) if r),
                        reason=a.reason,
                        request_id=request_id,
                        details={
                            "alert_id": a.id,
                            "kind": a.kind.value,
                            "region": a.region,
                            "risk_level": a.risk_level.value,
                            "act_by": a.act_by.isoformat() if a.act_by else "",
                            "report_version": a.report_version,
                        },
                    )
                ]
            )
            await self._outbox.add(
                alert_raised(
                    alert_id=a.id,
                    region=a.region,
                    risk_level=a.risk_level.value,
                    at=now,
                    verification_id=a.verification_id,
                    case_id=case_id,
                )
            )
        return raised

    @abc.abstractmethod
    async def add(self, draft: AlertDraft, now: datetime, actor: Actor) -> RaisedAlert:
        """Insert the alert and its ``raised`` event unless its dedup key is stored; no audit
        entry (use :meth:`raise_alert`)."""

    @abc.abstractmethod
    async def get(self, alert_id: str) -> AlertRecord | None: ...

    @abc.abstractmethod
    async def lock(self, alert_id: str) -> AlertRecord | None:
        """The alert, locked until the end of this unit of work."""

    @abc.abstractmethod
    async def find(self, query: AlertQuery) -> list[AlertRecord]:
        """At most ``query.limit`` matching alerts in (created_at, id) order."""

    @abc.abstractmethod
    async def history(self, alert_id: str) -> list[AlertEvent]:
        """The alert's events, oldest first."""

    @abc.abstractmethod
    async def person(self, alert_id: str) -> Subject | None:
        """The person a warning or outreach entry names, unsealed (None for the others)."""

    @abc.abstractmethod
    async def change(self, alert_id: str, change: AlertChange, now: datetime) -> None:
        """Write a lifecycle step and its history event; KeyError if there is no such alert."""

    @abc.abstractmethod
    async def mark_overdue(self, now: datetime, limit: int) -> list[AlertRecord]:
        """Unresolved alerts past their deadline and not yet marked: lock them (SKIP LOCKED
        on PostgreSQL, so replicas share the sweep), mark them overdue with an ``overdue``
        history event, and return them as marked."""


__all__ = ["AlertChange", "AlertRepository"]
