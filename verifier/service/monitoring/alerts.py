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
import contextlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog

from audit.entry import Actor, EntryDraft
from hedui_sdk import IdType, mask_id_number, mask_name
from verifier.domain import identifiers as ids
from verifier.domain.alerts import (
    CHINA,
    AlertEvent,
    AlertKind,
    AlertQuery,
    AlertRecord,
    AlertState,
    ReferralProgram,
    Resolution,
    RiskLevel,
)
from verifier.domain.alerts.warnings import ExternalWarning, WarningDraft, validate_warnings
from verifier.domain.caller import Caller
from verifier.domain.consent import ConsentRecord, ConsentState
from verifier.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from verifier.domain.ports import AlertChange, ChangeQuery, Store, StoredChanges, UnitOfWork
from verifier.domain.pseudonym import subject_ref
from verifier.domain.vocabulary import AuditAction, Role
from verifier.service.authorize import in_regions
from verifier.service.monitoring.raising import SYSTEM_ACTOR, AlertRaiser
from verifier.service.page_tokens import PageTokens

log = structlog.get_logger("hedui.alerts")

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500
NOTE_MAX = 256
WORK_ROLES = frozenset({Role.CASEWORKER, Role.REVIEWER})
IMPORT_ROLES = frozenset({Role.ADMIN})


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CHINA)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What a caller asks for; every given filter must match (AND). ``created_from`` and
    ``created_to`` are China's calendar days, both inclusive."""

    region_prefix: str = ""
    kind: AlertKind | None = None
    state: AlertState | None = None
    risk_level: RiskLevel | None = None
    owner: str = ""
    household_ref: str = ""
    overdue: bool | None = None
    created_from: date | None = None
    created_to: date | None = None

    def kinds(self) -> list[str]:
        """The filter's shape, for the audit entry: names only, never values."""
        named = {
            "region_prefix": bool(self.region_prefix),
            "kind": self.kind is not None,
            "state": self.state is not None,
            "risk_level": self.risk_level is not None,
            "owner": bool(self.owner),
            "household_ref": bool(self.household_ref),
            "overdue": self.overdue is not None,
            "created_from": self.created_from is not None,
            "created_to": self.created_to is not None,
        }
        return [k for k, on in named.items() if on]

    def check(self) -> None:
        """The formats (the API checks them too; the CLI and tests come here directly)."""
        out: list[FieldViolation] = []
        if self.region_prefix and not REGION_PREFIX.fullmatch(self.region_prefix):
            out.append(FieldViolation("region_prefix", REGION_PREFIX_RULE))
        ids.ACTOR_USER.optional(self.owner, "owner", out)
        ids.SHA256_HEX.optional(self.household_ref, "household_ref", out)
        if self.created_from and self.created_to and self.created_from > self.created_to:
            out.append(FieldViolation("created_to", "must not be before created_from"))
        if out:
            raise InvalidArgument(out)

    def scope(self, caller: Caller) -> bytes:
        """What a page token is bound to: this RPC, this caller, these exact filters."""
        doc = {
            "rpc": "ListAlerts",
            "system": caller.system,
            "user": caller.user,
            "region_prefix": self.region_prefix,
            "kind": self.kind.value if self.kind else "",
            "state": self.state.value if self.state else "",
            "risk_level": self.risk_level.value if self.risk_level else "",
            "owner": self.owner,
            "household_ref": self.household_ref,
            "overdue": self.overdue,
            "created_from": self.created_from.isoformat() if self.created_from else "",
            "created_to": self.created_to.isoformat() if self.created_to else "",
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


REGION_PREFIX = re.compile(r"[1-9][0-9](?:[0-9]{2}){0,2}", re.ASCII)
REGION_PREFIX_RULE = "must be a GB/T 2260 code or prefix (2, 4 or 6 digits)"


@dataclass(frozen=True, slots=True)
class Person:
    """A person as an alert shows them: masked."""

    id_type: IdType
    id_number_masked: str
    name_masked: str


@dataclass(frozen=True, slots=True)
class AlertView:
    alert: AlertRecord
    overdue: bool
    history: tuple[AlertEvent, ...] = ()
    person: Person | None = None


@dataclass(frozen=True, slots=True)
class AlertPage:
    alerts: tuple[AlertView, ...]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    alerts: int
    """Warnings about people a 授权书 covers: alerts raised now."""
    outreach: int
    """Warnings about people none covers: outreach ledger entries made now."""
    known: int
    """Warnings imported before (same department and reference): nothing new."""
    alert_ids: tuple[str, ...]
    """The alert or ledger entry of each warning, in the order given."""


@dataclass(frozen=True, slots=True)
class ChangesPage:
    changes: tuple[StoredChanges, ...]
    next_page_token: str


class AlertService:
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
    @staticmethod
    def _actor(caller: Caller) -> Actor:
        return Actor(caller.system, caller.user, caller.role, caller.region_label())

    async def _deny(
        self, caller: Caller, action: AuditAction, reason: str, message: str, **details: Any
    ) -> PermissionDenied:
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._actor(caller),
                        action=action.value,
                        outcome="deny",
                        reason=reason,
                        details=details,
                    )
                ]
            )
            await uow.commit()
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
                        actor=self._actor(caller),
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
            actor=self._actor(caller),
            action=action.value,
            outcome="allow",
            verification_id=alert.verification_id,
            subject_refs=tuple(r for r in (alert.household_ref, alert.subject_ref) if r),
            details={"alert_id": alert.id, **details},
        )

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

    # ------------------------------------------------------------------ warnings
    def check_warnings(self, drafts: Sequence[WarningDraft]) -> list[ExternalWarning]:
        """Every warning checked against today's date in China (INVALID_ARGUMENT naming
        each bad one by index and field; nothing written)."""
        return validate_warnings(drafts, today=self._clock().astimezone(CHINA).date())

    async def import_warnings(
        self, caller: Caller, warnings: Sequence[ExternalWarning], *, validate_only: bool = False
    ) -> ImportResult:
        """Alerts for warnings about people a 授权书 covers, outreach ledger entries for
        the others, all in one transaction (all or nothing). Re-importing a warning
        (same department and reference) raises nothing new. No source is asked.
        ``validate_only`` checks role and regions and writes nothing else."""
        await self._role(caller, IMPORT_ROLES, AuditAction.WARNINGS_IMPORT, count=len(warnings))
        outside = [i for i, w in enumerate(warnings) if not in_regions(w.region, caller.regions)]
        if outside:
            raise await self._deny(
                caller,
                AuditAction.WARNINGS_IMPORT,
                "OUT_OF_REGION",
                f"warnings[{outside[0]}].region_code is outside the caller's regions",
                rows=outside[:16],
            )
        if validate_only:
            return ImportResult(0, 0, 0, ())
        now = self._clock()
        today = now.astimezone(CHINA).date()
        actor = self._actor(caller)

        async def work(uow: UnitOfWork) -> ImportResult:
            made = {AlertKind.WARNING: 0, AlertKind.OUTREACH: 0}
            known = 0
            alert_ids: list[str] = []
            refs: list[str] = []
            for w in warnings:
                ref = subject_ref(self._pkey, w.person.id_type, w.person.id_number)
                refs.append(ref)
                consent = _covering(await uow.consents.naming(ref), w.region, today)
                kind = AlertKind.WARNING if consent else AlertKind.OUTREACH
                details: dict[str, Any] = {
                    "department": w.department.value,
                    "warning_id": w.warning_id,
                    "warning_date": w.warning_date.isoformat(),
                }
                if consent is not None:
                    details["authorization_id"] = consent.number
                raised = await self._raiser.raise_for(
                    uow,
                    kind=kind,
                    reason=w.reason.value,
                    region=consent.region if consent else w.region,
                    dedup_key=f"warning:{w.key}",
                    actor=actor,
                    household_ref=consent.household_ref if consent else "",
                    subject_ref=ref,
                    details=details,
                    person=w.person,
                    now=now,
                )
                assert raised is not None  # warning reasons always raise
                alert_ids.append(raised.alert.id)
                if not raised.created:
                    known += 1
                    continue
                made[kind] += 1
                if kind is AlertKind.OUTREACH:
                    await uow.audit.append(
                        [
                            self._entry(
                                caller,
                                AuditAction.OUTREACH_LEDGER,
                                raised.alert,
                                department=w.department.value,
                                note="no covering 授权书: outreach, no data query",
                            )
                        ]
                    )
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=actor,
                        action=AuditAction.WARNINGS_IMPORT.value,
                        outcome="allow",
                        subject_refs=tuple(dict.fromkeys(refs)),
                        details={
                            "count": len(warnings),
                            "alerts": made[AlertKind.WARNING],
                            "outreach": made[AlertKind.OUTREACH],
                            "known": known,
                            "departments": sorted({w.department.value for w in warnings}),
                        },
                    )
                ]
            )
            return ImportResult(
                made[AlertKind.WARNING], made[AlertKind.OUTREACH], known, tuple(alert_ids)
            )

        result = await self._store.write(work)
        log.info(
            "warnings_imported",
            count=len(warnings),
            alerts=result.alerts,
            outreach=result.outreach,
            known=result.known,
        )
        return result

    # ------------------------------------------------------------------ change documents
    async def get_changes(
        self, caller: Caller, verification_id: str, version: int
    ) -> StoredChanges:
        """A signed change document (``version`` 0: the latest version's)."""
        out: list[FieldViolation] = []
        ids.VERIFICATION_ID.check(verification_id, "verification_id", out)
        if version < 0:
            out.append(FieldViolation("version", "must be 0 (latest) or a version number"))
        if out:
            raise InvalidArgument(out)
        await self._role(
            caller, WORK_ROLES, AuditAction.CHANGES_READ, verification_id=verification_id
        )
        async with self._store.unit_of_work(write=False) as uow:
            found = await uow.changes.get(verification_id, version)
        if found is None:
            raise NotFound("no change document for that check and version")
        if not in_regions(found.region, caller.regions):
            await self._deny(caller, AuditAction.CHANGES_READ, "OUT_OF_REGION", "")
            raise NotFound("no change document for that check and version")
        await self._record_changes_read(caller, [found], kind="get")
        return found

    async def list_changes(
        self,
        caller: Caller,
        *,
        household_ref: str = "",
        verification_id: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> ChangesPage:
        """Change documents of the caller's regions, newest first, optionally of one
        household or one check."""
        out: list[FieldViolation] = []
        ids.SHA256_HEX.optional(household_ref, "household_ref", out)
        ids.VERIFICATION_ID.optional(verification_id, "verification_id", out)
        if page_size < 0:
            out.append(FieldViolation("page_size", "must not be negative"))
        if out:
            raise InvalidArgument(out)
        scope = json.dumps(
            ["ListChanges", caller.system, caller.user, household_ref, verification_id]
        ).encode()
        after = self._tokens.read(page_token, scope) if page_token else None
        await self._role(caller, WORK_ROLES, AuditAction.CHANGES_READ)
        size = min(page_size or PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX)
        async with self._store.unit_of_work(write=False) as uow:
            rows = await uow.changes.find(
                ChangeQuery(
                    regions=caller.regions,
                    limit=size + 1,
                    household_ref=household_ref,
                    verification_id=verification_id,
                    # A page ends on a whole check: the next starts before it.
                    after=(after[0], after[1], -1) if after else None,
                )
            )
        page = rows[:size]
        await self._record_changes_read(caller, page, kind="list")
        token = ""
        if len(rows) > size and page:
            token = self._tokens.issue(scope, page[-1].created_at, page[-1].verification_id)
        return ChangesPage(tuple(page), token)

    async def _record_changes_read(
        self, caller: Caller, found: Sequence[StoredChanges], *, kind: str
    ) -> None:
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._actor(caller),
                        action=AuditAction.CHANGES_READ.value,
                        outcome="allow",
                        verification_id=found[0].verification_id if len(found) == 1 else "",
                        subject_refs=tuple(dict.fromkeys(c.household_ref for c in found)),
                        details={
                            "kind": kind,
                            "documents": [f"{c.verification_id}:{c.version}" for c in found],
                        },
                    )
                ]
            )
            await uow.commit()

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
        """Sweep for overdue alerts until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.mark_overdue()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("overdue_sweep_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


ALERT_ID = ids.Format(
    "alert id",
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII),
    36,
    "an alert id (a UUID in lowercase hex, 36 characters)",
)


def _check_note(note: str) -> None:
    if not note:
        return
    problem = ids.free_text_problem(note, NOTE_MAX)
    if problem is not None:
        raise InvalidArgument([FieldViolation("note", problem)])


def _covering(consents: Sequence[ConsentRecord], region: str, today: date) -> ConsentRecord | None:
    """The 授权书 that covers a warned person: ACTIVE today, in the warning's region."""
    for c in consents:
        if (
            c.region == region
            and c.valid_from <= today
            and c.state_on(today) is ConsentState.ACTIVE
        ):
            return c
    return None


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
