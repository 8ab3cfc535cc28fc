"""In-memory alerts and change-detection repositories (they subclass the ports), and
the rows they keep in :class:`tests.fakes.tables.Tables`."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from audit.entry import Actor
from hedui_sdk import Subject
from verifier.domain.alerts import (
    AlertDraft,
    AlertEvent,
    AlertQuery,
    AlertRecord,
    AlertState,
    RaisedAlert,
)
from verifier.domain.errors import Conflict
from verifier.domain.ports.alerts import AlertChange, AlertRepository
from verifier.domain.ports.audit import AuditRepository
from verifier.domain.ports.changes import (
    ChangeQuery,
    ChangeRepository,
    HouseholdCheck,
    PendingComparison,
    StoredChanges,
)
from verifier.domain.ports.outbox import OutboxRepository


@dataclass(frozen=True, slots=True)
class AlertRow:
    record: AlertRecord
    dedup_sha256: str
    person: Subject | None
    events: tuple[AlertEvent, ...]


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    verification_id: str
    version: int
    created_at: datetime
    due_at: datetime
    state: str = "pending"
    outcome: str = ""
    attempts: int = 0
    reason: str = ""


@dataclass(slots=True)
class MonitoringTables:
    alerts: dict[str, AlertRow] = field(default_factory=dict)
    checks: dict[str, HouseholdCheck] = field(default_factory=dict)
    comparisons: dict[tuple[str, int], ComparisonRow] = field(default_factory=dict)
    changes: dict[tuple[str, int], StoredChanges] = field(default_factory=dict)

    def copy(self) -> MonitoringTables:
        return MonitoringTables(
            dict(self.alerts), dict(self.checks), dict(self.comparisons), dict(self.changes)
        )


def _in_regions(region: str, prefixes: tuple[str, ...]) -> bool:
    return any(region.startswith(p) for p in prefixes)


class InMemoryAlerts(AlertRepository):
    def __init__(
        self,
        tables: MonitoringTables,
        audit: AuditRepository,
        outbox: OutboxRepository,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        super().__init__(audit, outbox)
        self._t = tables
        self._new_id = new_id

    async def add(self, draft: AlertDraft, now: datetime, actor: Actor) -> RaisedAlert:
        digest = hashlib.sha256(draft.dedup_key.encode()).hexdigest()
        for row in self._t.alerts.values():
            if row.dedup_sha256 == digest:
                return RaisedAlert(row.record, created=False)
        record = AlertRecord(
            id=self._new_id(),
            kind=draft.kind,
            reason=draft.reason,
            region=draft.region,
            risk_level=draft.risk_level,
            state=AlertState.OPEN,
            owner=draft.owner,
            household_ref=draft.household_ref,
            subject_ref=draft.subject_ref,
            verification_id=draft.verification_id,
            report_version=draft.report_version,
            act_by=draft.act_by,
            created_at=now,
            updated_at=now,
            details=dict(draft.details),
        )
        event = AlertEvent(now, "raised", actor.system, actor.user, draft.reason)
        self._t.alerts[record.id] = AlertRow(record, digest, draft.person, (event,))
        return RaisedAlert(record, created=True)

    async def get(self, alert_id: str) -> AlertRecord | None:
        row = self._t.alerts.get(alert_id)
        return row.record if row else None

    async def lock(self, alert_id: str) -> AlertRecord | None:
        return await self.get(alert_id)

    async def find(self, query: AlertQuery) -> list[AlertRecord]:
        def keep(a: AlertRecord) -> bool:
            return (
                _in_regions(a.region, query.regions)
                and a.region.startswith(query.region)
                and (query.kind is None or a.kind is query.kind)
                and (query.state is None or a.state is query.state)
                and (query.risk_level is None or a.risk_level is query.risk_level)
                and (not query.owner or a.owner == query.owner)
                and (not query.household_ref or a.household_ref == query.household_ref)
                and (query.overdue is None or a.overdue(query.now) is query.overdue)
                and (query.created_from is None or a.created_at >= query.created_from)
                and (query.created_until is None or a.created_at < query.created_until)
                and (query.after is None or (a.created_at, a.id) > query.after)
            )

        found = sorted(
            (r.record for r in self._t.alerts.values() if keep(r.record)),
            key=lambda a: (a.created_at, a.id),
        )
        return found[: query.limit]

    async def history(self, alert_id: str) -> list[AlertEvent]:
        row = self._t.alerts.get(alert_id)
        return list(row.events) if row else []

    async def person(self, alert_id: str) -> Subject | None:
        row = self._t.alerts.get(alert_id)
        return row.person if row else None

    async def change(self, alert_id: str, change: AlertChange, now: datetime) -> None:
        row = self._t.alerts[alert_id]
        record = replace(
            row.record,
            state=change.state,
            owner=change.owner,
            resolution=change.resolution,
            referred_program=change.referred_program,
            updated_at=now,
        )
        self._t.alerts[alert_id] = replace(row, record=record, events=(*row.events, change.event))

    async def mark_overdue(self, now: datetime, limit: int) -> list[AlertRecord]:
        due = sorted(
            (
                r
                for r in self._t.alerts.values()
                if r.record.overdue(now) and r.record.overdue_marked_at is None
            ),
            key=lambda r: (r.record.deadline, r.record.id),
        )[:limit]
        out = []
        for row in due:
            record = replace(row.record, overdue_marked_at=now)
            act_by = record.act_by.isoformat() if record.act_by else ""
            event = AlertEvent(now, "overdue", "hedui", "", f"not resolved by {act_by}")
            self._t.alerts[record.id] = replace(row, record=record, events=(*row.events, event))
            out.append(record)
        return out


class InMemoryChanges(ChangeRepository):
    def __init__(self, tables: MonitoringTables) -> None:
        self._t = tables

    async def note_release(self, check: HouseholdCheck, version: int, now: datetime) -> None:
        self._t.checks.setdefault(check.verification_id, check)
        key = (check.verification_id, version)
        if key not in self._t.comparisons:
            self._t.comparisons[key] = ComparisonRow(check.verification_id, version, now, now)

    async def has_pending(self, now: datetime) -> bool:
        return any(r.state == "pending" and r.due_at <= now for r in self._t.comparisons.values())

    async def pending(
        self, now: datetime, limit: int, *, only: tuple[str, int] | None = None
    ) -> list[PendingComparison]:
        rows = sorted(
            (
                r
                for key, r in self._t.comparisons.items()
                if r.state == "pending" and r.due_at <= now and (only is None or key == only)
            ),
            key=lambda r: (r.due_at, r.created_at),
        )[:limit]
        return [PendingComparison(r.verification_id, r.version, r.attempts) for r in rows]

    async def finish(self, verification_id: str, version: int, outcome: str, now: datetime) -> None:
        key = (verification_id, version)
        self._t.comparisons[key] = replace(self._t.comparisons[key], state="done", outcome=outcome)

    async def retry_later(
        self, verification_id: str, version: int, at: datetime, reason: str
    ) -> None:
        key = (verification_id, version)
        row = self._t.comparisons[key]
        self._t.comparisons[key] = replace(
            row, attempts=row.attempts + 1, due_at=at, reason=reason[:256]
        )

    async def check(self, verification_id: str) -> HouseholdCheck | None:
        return self._t.checks.get(verification_id)

    async def set_roster_ref(self, verification_id: str, roster_ref: str) -> None:
        check = self._t.checks[verification_id]
        self._t.checks[verification_id] = replace(check, roster_ref=roster_ref)

    async def previous_check(self, current: HouseholdCheck) -> HouseholdCheck | None:
        earlier = [
            c
            for c in self._t.checks.values()
            if c.region == current.region
            and (
                c.household_ref == current.household_ref
                or bool(current.roster_ref and c.roster_ref == current.roster_ref)
            )
            and (c.created_at, c.verification_id) < (current.created_at, current.verification_id)
        ]
        return max(earlier, key=lambda c: (c.created_at, c.verification_id), default=None)

    async def add(self, changes: StoredChanges) -> None:
        key = (changes.verification_id, changes.version)
        if key in self._t.changes:
            raise Conflict("a concurrent request changed the same record")
        self._t.changes[key] = changes

    async def get(self, verification_id: str, version: int) -> StoredChanges | None:
        if version:
            return self._t.changes.get((verification_id, version))
        mine = [c for (vid, _), c in self._t.changes.items() if vid == verification_id]
        return max(mine, key=lambda c: c.version, default=None)

    async def find(self, query: ChangeQuery) -> list[StoredChanges]:
        def key(c: StoredChanges) -> tuple[datetime, str, int]:
            return (c.created_at, c.verification_id, c.version)

        found = sorted(
            (
                c
                for c in self._t.changes.values()
                if _in_regions(c.region, query.regions)
                and (not query.household_ref or c.household_ref == query.household_ref)
                and (not query.verification_id or c.verification_id == query.verification_id)
                and (query.after is None or key(c) < query.after)
            ),
            key=key,
            reverse=True,
        )
        return found[: query.limit]


__all__ = [
    "InMemoryAlerts",
    "InMemoryChanges",
    "MonitoringTables",
]
