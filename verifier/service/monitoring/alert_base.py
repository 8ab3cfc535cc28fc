"""What every part of the alerts use case shares: the store, the audit of an allowed
or refused call, the role and region checks, and an alert as the caller sees it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from audit.entry import EntryDraft
from hedui_sdk import mask_id_number, mask_name
from verifier.domain import identifiers as ids
from verifier.domain.alerts import AlertEvent, AlertRecord
from verifier.domain.caller import Caller
from verifier.domain.errors import NotFound, PermissionDenied
from verifier.domain.ports import Store, UnitOfWork
from verifier.domain.vocabulary import AuditAction, Role
from verifier.service.audit_trail import actor_of, record_refusal
from verifier.service.authorize import in_regions
from verifier.service.monitoring.alert_views import ALERT_ID, AlertView, Person
from verifier.service.monitoring.raising import AlertRaiser
from verifier.service.page_tokens import PageTokens


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AlertServiceBase:
    def __init__(
        self,
        store: Store,
        pseudonym_key: bytes,
        tokens: PageTokens,
        *,
        raiser: AlertRaiser | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._pkey = pseudonym_key
        self._raiser = raiser or AlertRaiser(clock=clock)
        self._tokens = tokens
        self._clock = clock

    # ------------------------------------------------------------------ discipline
    async def _deny(
        self, caller: Caller, action: AuditAction, reason: str, message: str, **details: Any
    ) -> PermissionDenied:
        await record_refusal(self._store, caller, action.value, reason, details)
        return PermissionDenied(reason, message)

    async def _role(
        self, caller: Caller, roles: frozenset[Role], action: AuditAction, **details: Any
    ) -> None:
        if caller.role not in roles:
            raise await self._deny(
                caller,
                action,
                "ROLE_NOT_ALLOWED",
                f"role {caller.role!r} may not do this",
                **details,
            )

    def _view(
        self,
        a: AlertRecord,
        now: datetime,
        history: Sequence[AlertEvent] = (),
        person: Person | None = None,
    ) -> AlertView:
        return AlertView(a, a.overdue(now), tuple(history), person)

    async def _visible(self, caller: Caller, alert_id: str, action: AuditAction) -> AlertRecord:
        """The alert, if the caller's regions cover it; NotFound otherwise (after an
        audited denial: an alert id is not an oracle for another region's work)."""
        ids.require(ALERT_ID, alert_id, "alert_id")
        async with self._store.unit_of_work(write=False) as uow:
            alert = await uow.alerts.get(alert_id)
        if alert is None:
            raise NotFound("alert not found")
        if not in_regions(alert.region, caller.regions):
            await self._deny(caller, action, "OUT_OF_REGION", "", alert_id=alert_id)
            raise NotFound("alert not found")
        return alert

    @staticmethod
    async def _person(uow: UnitOfWork, alert_id: str) -> Person | None:
        p = await uow.alerts.person(alert_id)
        if p is None:
            return None
        return Person(p.id_type, mask_id_number(p.id_number), mask_name(p.name))

    def _entry(
        self, caller: Caller, action: AuditAction, alert: AlertRecord, **details: Any
    ) -> EntryDraft:
        return EntryDraft(
            actor=actor_of(caller),
            action=action.value,
            outcome="allow",
            verification_id=alert.verification_id,
            subject_refs=tuple(r for r in (alert.household_ref, alert.subject_ref) if r),
            details={"alert_id": alert.id, **details},
        )


__all__ = ["AlertServiceBase"]
