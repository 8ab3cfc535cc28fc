"""Working alerts (监测预警) and the outreach ledger (台账): list, read, acknowledge, assign,
resolve; import external warnings; read change documents; mark overdue alerts.

Who may do what (``Caller.role``): caseworkers and reviewers read and work the alerts of
their regions; admins import warnings. Every action and every read is an audit entry,
committed before anything is returned; a refusal for role or region is one ``deny``
entry and nothing else. Formats are checked at the API boundary and again here where
a value decides what is written.

A warning about a person whom an ACTIVE 授权书 of the warning's region names becomes an
alert on that household. A warning about anyone else becomes an **outreach ledger
entry**: staff go to the family (and may bring a 授权书 back). Neither asks any source
about anyone: an import reads the 授权书 registry and writes alerts, nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import structlog

from audit.entry import EntryDraft
from verifier.domain import identifiers as ids
from verifier.domain.alerts import (
    CHINA,
    AlertEvent,
    AlertQuery,
    AlertRecord,
    AlertState,
    ReferralProgram,
    Resolution,
)
from verifier.domain.caller import Caller
from verifier.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from verifier.domain.ports import AlertChange, UnitOfWork
from verifier.domain.vocabulary import AuditAction
from verifier.service.audit_trail import actor_of
from verifier.service.authorize import in_regions
from verifier.service.background import run_rounds
from verifier.service.monitoring.alert_views import (
    ALERT_ID,
    NOTE_MAX,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    WORK_ROLES,
    AlertFilter,
    AlertPage,
    AlertView,
    ChangesPage,
    ImportResult,
    Person,
)
from verifier.service.monitoring.change_reads import ChangeReads
from verifier.service.monitoring.raising import SYSTEM_ACTOR
from verifier.service.monitoring.warning_import import WarningImport

log = structlog.get_logger("hedui.alerts")


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CHINA)


class AlertService(WarningImport, ChangeReads):
    """The alerts use case: its reads and lifecycle here, warning imports in
    :class:`WarningImport`, change documents in :class:`ChangeReads`."""

    # ------------------------------------------------------------------ reads
    async def list_alerts(
        self, caller: Caller, flt: AlertFilter, *, page_size: int = 0, page_token: str = ""
    ) -> AlertPage:
        """One page in (created time, id) order; pass ``next_page_token`` for the next.
        Formats and the page token are checked first (INVALID_ARGUMENT, nothing written),
        then role and region (PERMISSION_DENIED, one audited denial)."""
        flt.check()
        if page_size < 0:
            raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
        scope = flt.scope(caller)
        after = self._tokens.read(page_token, scope) if page_token else None
        await self._role(caller, WORK_ROLES, AuditAction.ALERT_READ, filters=flt.kinds())
        if flt.region_prefix and not in_regions(flt.region_prefix, caller.regions):
            raise await self._deny(
                caller,
                AuditAction.ALERT_READ,
                "OUT_OF_REGION",
                f"region {flt.region_prefix} is outside the caller's regions",
                filters=flt.kinds(),
            )
        size = min(page_size or PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX)
        now = self._clock()
        query = AlertQuery(
            regions=caller.regions,
            now=now,
            limit=size + 1,
            region=flt.region_prefix,
            kind=flt.kind,
            state=flt.state,
            risk_level=flt.risk_level,
            owner=flt.owner,
            household_ref=flt.household_ref,
            overdue=flt.overdue,
            created_from=_start_of(flt.created_from) if flt.created_from else None,
            created_until=_start_of(flt.created_to + timedelta(days=1)) if flt.created_to else None,
            after=after,
        )

        async def read(uow: UnitOfWork) -> list[AlertRecord]:
            # Recorded in the transaction that reads, committed before the page is told.
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=actor_of(caller),
                        action=AuditAction.ALERT_READ.value,
                        outcome="allow",
                        subject_refs=(flt.household_ref,) if flt.household_ref else (),
                        details={
                            "kind": "list",
                            "filters": flt.kinds(),
                            "page_size": size,
                            "continued": after is not None,
                        },
                    )
                ]
            )
            return await uow.alerts.find(query)

        rows = await self._store.write(read)
        page = rows[:size]
        token = ""
        if len(rows) > size and page:
            token = self._tokens.issue(scope, page[-1].created_at, page[-1].id)
        return AlertPage(tuple(self._view(a, now) for a in page), token)

    async def get(self, caller: Caller, alert_id: str) -> AlertView:
        """One alert with its history, and the person a warning names (masked)."""
        ids.require(ALERT_ID, alert_id, "alert_id")
        await self._role(caller, WORK_ROLES, AuditAction.ALERT_READ, alert_id=alert_id)
        alert = await self._visible(caller, alert_id, AuditAction.ALERT_READ)

        async def read(uow: UnitOfWork) -> AlertView:
            await uow.audit.append([self._entry(caller, AuditAction.ALERT_READ, alert, kind="get")])
            found = await uow.alerts.get(alert_id)
            assert found is not None
            return self._view(
                found,
                self._clock(),
                await uow.alerts.history(alert_id),
                await self._person(uow, alert_id),
            )

        return await self._store.write(read)

    # ------------------------------------------------------------------ lifecycle
    async def acknowledge(
        self, caller: Caller, alert_id: str, *, owner: str = "", note: str = ""
    ) -> AlertView:
        """OPEN → ACKNOWLEDGED; the owner is ``owner`` or the caller's user."""
        _check_note(note)
        out: list[FieldViolation] = []
        ids.ACTOR_USER.optional(owner, "owner", out)
        if out:
            raise InvalidArgument(out)
        return await self._step(
            caller,
            alert_id,
            AuditAction.ALERT_ACKNOWLEDGE,
            allowed=(AlertState.OPEN,),
            change=lambda a, ev: AlertChange(AlertState.ACKNOWLEDGED, owner or caller.user, ev),
            event="acknowledged",
            note=note,
            details={"owner": owner or caller.user},
        )

    async def assign(self, caller: Caller, alert_id: str, owner: str, note: str = "") -> AlertView:
        """Give an unresolved alert to ``owner`` (its state does not change)."""
        _check_note(note)
        ids.require(ids.ACTOR_USER, owner, "owner")
        return await self._step(
            caller,
            alert_id,
            AuditAction.ALERT_ASSIGN,
            allowed=(AlertState.OPEN, AlertState.ACKNOWLEDGED),
            change=lambda a, ev: AlertChange(a.state, owner, ev),
            event="assigned",
            note=note,
            details={"owner": owner},
        )

    async def resolve(
        self,
        caller: Caller,
        alert_id: str,
        resolution: Resolution | None,
        program: ReferralProgram | None = None,
        note: str = "",
    ) -> AlertView:
        """OPEN or ACKNOWLEDGED → RESOLVED with its outcome; a referral names its program."""
        out: list[FieldViolation] = []
        if resolution is None:
            out.append(FieldViolation("resolution", "must be given"))
        elif resolution is Resolution.REFERRED and program is None:
            out.append(FieldViolation("program", "must name the program referred to"))
        elif resolution is not Resolution.REFERRED and program is not None:
            out.append(FieldViolation("program", "is only for a referral (REFERRED)"))
        problem = ids.free_text_problem(note, NOTE_MAX) if note else None
        if problem is not None:
            out.append(FieldViolation("note", problem))
        if out:
            raise InvalidArgument(out)
        assert resolution is not None
        detail = resolution.value + (f": {program.value}" if program else "")
        return await self._step(
            caller,
            alert_id,
            AuditAction.ALERT_RESOLVE,
            allowed=(AlertState.OPEN, AlertState.ACKNOWLEDGED),
            change=lambda a, ev: AlertChange(
                AlertState.RESOLVED, a.owner or caller.user, ev, resolution, program
            ),
            event="resolved",
            note=note,
            details={"resolution": resolution.value, "program": program.value if program else ""},
            detail=detail,
        )

    async def _step(
        self,
        caller: Caller,
        alert_id: str,
        action: AuditAction,
        *,
        allowed: tuple[AlertState, ...],
        change: Callable[[AlertRecord, AlertEvent], AlertChange],
        event: str,
        note: str,
        details: dict[str, Any],
        detail: str = "",
    ) -> AlertView:
        ids.require(ALERT_ID, alert_id, "alert_id")
        await self._role(caller, WORK_ROLES, action, alert_id=alert_id)
        await self._visible(caller, alert_id, action)
        now = self._clock()

        async def work(uow: UnitOfWork) -> AlertView:
            alert = await uow.alerts.lock(alert_id)
            if alert is None:
                raise NotFound("alert not found")
            if alert.state not in allowed:
                raise FailedPrecondition(f"the alert is {alert.state.value}")
            text = "; ".join(t for t in (detail, note.strip(" ")) if t)
            ev = AlertEvent(now, event, caller.system, caller.user, text[:512])
            await uow.alerts.change(alert_id, change(alert, ev), now)
            await uow.audit.append(
                [self._entry(caller, action, alert, **details, noted=bool(note))]
            )
            found = await uow.alerts.get(alert_id)
            assert found is not None
            return self._view(
                found, now, await uow.alerts.history(alert_id), await self._person(uow, alert_id)
            )

        return await self._store.write(work)

    # ------------------------------------------------------------------ overdue
    async def mark_overdue(self, limit: int = 100) -> list[AlertRecord]:
        """Mark unresolved alerts past their deadline, once each, with an ``alert_overdue``
        audit entry: a small sweep any replica may run (SKIP LOCKED)."""
        now = self._clock()

        async def work(uow: UnitOfWork) -> list[AlertRecord]:
            marked = await uow.alerts.mark_overdue(now, limit)
            if marked:
                await uow.audit.append(
                    [
                        EntryDraft(
                            actor=SYSTEM_ACTOR,
                            action=AuditAction.ALERT_OVERDUE.value,
                            outcome="recorded",
                            verification_id=a.verification_id,
                            subject_refs=tuple(r for r in (a.household_ref, a.subject_ref) if r),
                            reason=a.reason,
                            details={
                                "alert_id": a.id,
                                "region": a.region,
                                "risk_level": a.risk_level.value,
                                "act_by": a.act_by.isoformat() if a.act_by else "",
                                "owner": a.owner,
                            },
                        )
                        for a in marked
                    ]
                )
            return marked

        marked = await self._store.write(work)
        for a in marked:
            log.warning("alert_overdue", alert_id=a.id, region=a.region, risk=a.risk_level.value)
        return marked

    async def run(self, stop: asyncio.Event, interval: float = 60.0) -> None:
        """Sweep for overdue alerts until ``stop`` is set, one sweep each ``interval``."""

        async def sweep() -> int:
            return len(await self.mark_overdue())

        await run_rounds(
            sweep, stop, interval, log=log, failed="overdue_sweep_failed", again=lambda _: False
        )


def _check_note(note: str) -> None:
    if not note:
        return
    problem = ids.free_text_problem(note, NOTE_MAX)
    if problem is not None:
        raise InvalidArgument([FieldViolation("note", problem)])


__all__ = [
    "ALERT_ID",
    "PAGE_SIZE_DEFAULT",
    "PAGE_SIZE_MAX",
    "AlertFilter",
    "AlertPage",
    "AlertService",
    "AlertView",
    "ChangesPage",
    "ImportResult",
    "Person",
]
