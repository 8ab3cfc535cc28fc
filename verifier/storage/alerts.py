"""Alerts and the outreach ledger on SQLAlchemy: plain columns for codes, keyed refs and
dates; the person a warning names sealed (AES-256-GCM, bound to the alert's id)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.entry import Actor
from hedui_sdk import IdType, Subject
from verifier.domain.alerts import (
    AlertDraft,
    AlertEvent,
    AlertKind,
    AlertQuery,
    AlertRecord,
    AlertState,
    RaisedAlert,
    ReferralProgram,
    Resolution,
    RiskLevel,
    deadline_at,
)
from verifier.domain.ports.alerts import AlertChange, AlertRepository
from verifier.domain.ports.audit import AuditRepository
from verifier.domain.ports.outbox import OutboxRepository
from verifier.storage.guard import guard
from verifier.storage.models_alerts import AlertEventRow, AlertRow
from verifier.storage.sealing import Sealer

_UNRESOLVED = (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value)


def dedup_sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _record(row: AlertRow) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        kind=AlertKind(row.kind),
        reason=row.reason,
        region=row.region,
        risk_level=RiskLevel(row.risk_level),
        state=AlertState(row.state),
        owner=row.owner,
        household_ref=row.household_ref,
        subject_ref=row.subject_ref,
        verification_id=row.verification_id,
        report_version=row.report_version,
        act_by=row.act_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        resolution=Resolution(row.resolution) if row.resolution else None,
        referred_program=ReferralProgram(row.referred_program) if row.referred_program else None,
        overdue_marked_at=row.overdue_marked_at,
        details=json.loads(row.details),
    )


def _overdue(now: datetime) -> ColumnElement[bool]:
    return and_(
        AlertRow.state.in_(_UNRESOLVED),
        AlertRow.deadline.is_not(None),
        AlertRow.deadline < now,
    )


class SqlAlerts(AlertRepository):
    def __init__(
        self,
        session: AsyncSession,
        sealer: Sealer,
        audit: AuditRepository,
        outbox: OutboxRepository,
    ) -> None:
        super().__init__(audit, outbox)
        self._session = session
        self._sealer = sealer

    async def add(self, draft: AlertDraft, now: datetime, actor: Actor) -> RaisedAlert:
        digest = dedup_sha256(draft.dedup_key)
        async with guard():
            existing = (
                await self._session.execute(select(AlertRow).where(AlertRow.dedup_sha256 == digest))
            ).scalar_one_or_none()
            if existing is not None:
                return RaisedAlert(_record(existing), created=False)
            alert_id = str(uuid.uuid4())
            sealed: bytes | None = None
            kid = ""
            if draft.person is not None:
                p = draft.person
                plain = json.dumps(
                    {"id_type": p.id_type.value, "id_number": p.id_number, "name": p.name},
                    ensure_ascii=False,
                ).encode()
                sealed, kid = self._sealer.seal(plain, f"alerts/{alert_id}")
            row = AlertRow(
                id=alert_id,
                dedup_sha256=digest,
                kind=draft.kind.value,
                reason=draft.reason,
                region=draft.region,
                risk_level=draft.risk_level.value,
                state=AlertState.OPEN.value,
                owner=draft.owner,
                household_ref=draft.household_ref,
                subject_ref=draft.subject_ref,
                verification_id=draft.verification_id,
                report_version=draft.report_version,
                act_by=draft.act_by,
                deadline=deadline_at(draft.act_by) if draft.act_by else None,
                created_at=now,
                updated_at=now,
                resolution="",
                referred_program="",
                overdue_marked_at=None,
                details=json.dumps(dict(draft.details), ensure_ascii=False, sort_keys=True),
                person_sealed=sealed,
                person_key_id=kid,
            )
            self._session.add(row)
            # No relationship() between the two: flush the alert before its first event.
            await self._session.flush()
            self._session.add(
                AlertEventRow(
                    alert_id=alert_id,
                    at=now,
                    event="raised",
                    actor_system=actor.system,
                    actor_user=actor.user,
                    detail=draft.reason,
                )
            )
            await self._session.flush()
            return RaisedAlert(_record(row), created=True)

    async def get(self, alert_id: str) -> AlertRecord | None:
        async with guard():
            row = await self._session.get(AlertRow, alert_id)
            return _record(row) if row is not None else None

    async def lock(self, alert_id: str) -> AlertRecord | None:
        async with guard():
            row = await self._session.get(AlertRow, alert_id, with_for_update=True)
            return _record(row) if row is not None else None

    async def find(self, query: AlertQuery) -> list[AlertRecord]:
        q = select(AlertRow)
        if not query.regions:
            return []
        q = q.where(or_(*(AlertRow.region.startswith(p, autoescape=True) for p in query.regions)))
        if query.region:
            q = q.where(AlertRow.region.startswith(query.region, autoescape=True))
        if query.kind is not None:
            q = q.where(AlertRow.kind == query.kind.value)
        if query.state is not None:
            q = q.where(AlertRow.state == query.state.value)
        if query.risk_level is not None:
            q = q.where(AlertRow.risk_level == query.risk_level.value)
        if query.owner:
            q = q.where(AlertRow.owner == query.owner)
        if query.household_ref:
            q = q.where(AlertRow.household_ref == query.household_ref)
        if query.overdue is not None:
            overdue = _overdue(query.now)
            q = q.where(overdue if query.overdue else ~overdue)
        if query.created_from is not None:
            q = q.where(AlertRow.created_at >= query.created_from)
        if query.created_until is not None:
            q = q.where(AlertRow.created_at < query.created_until)
        if query.after is not None:
            at, last_id = query.after
            q = q.where(
                or_(
                    AlertRow.created_at > at,
                    and_(AlertRow.created_at == at, AlertRow.id > last_id),
                )
            )
        q = q.order_by(AlertRow.created_at, AlertRow.id).limit(query.limit)
        async with guard():
            return [_record(r) for r in (await self._session.execute(q)).scalars()]

    async def history(self, alert_id: str) -> list[AlertEvent]:
        async with guard():
            rows = (
                await self._session.execute(
                    select(AlertEventRow)
                    .where(AlertEventRow.alert_id == alert_id)
                    .order_by(AlertEventRow.id)
                )
            ).scalars()
            return [AlertEvent(r.at, r.event, r.actor_system, r.actor_user, r.detail) for r in rows]

    async def person(self, alert_id: str) -> Subject | None:
        async with guard():
            row = await self._session.get(AlertRow, alert_id)
        if row is None or row.person_sealed is None:
            return None
        plain: dict[str, Any] = json.loads(
            self._sealer.open(row.person_sealed, row.person_key_id, f"alerts/{alert_id}")
        )
        return Subject(IdType(plain["id_type"]), plain["id_number"], plain["name"])

    async def change(self, alert_id: str, change: AlertChange, now: datetime) -> None:
        async with guard():
            row = await self._session.get(AlertRow, alert_id, with_for_update=True)
            if row is None:
                raise KeyError(alert_id)
            row.state = change.state.value
            row.owner = change.owner
            row.resolution = change.resolution.value if change.resolution else ""
            row.referred_program = change.referred_program.value if change.referred_program else ""
            row.updated_at = now
            e = change.event
            self._session.add(
                AlertEventRow(
                    alert_id=alert_id,
                    at=e.at,
                    event=e.event,
                    actor_system=e.actor_system,
                    actor_user=e.actor_user,
                    detail=e.detail,
                )
            )
            await self._session.flush()

    async def mark_overdue(self, now: datetime, limit: int) -> list[AlertRecord]:
        async with guard():
            rows = list(
                (
                    await self._session.execute(
                        select(AlertRow)
                        .where(_overdue(now), AlertRow.overdue_marked_at.is_(None))
                        .order_by(AlertRow.deadline, AlertRow.id)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                ).scalars()
            )
            for row in rows:
                row.overdue_marked_at = now
                self._session.add(
                    AlertEventRow(
                        alert_id=row.id,
                        at=now,
                        event="overdue",
                        actor_system="hedui",
                        actor_user="",
                        detail=f"not resolved by {row.act_by.isoformat() if row.act_by else ''}",
                    )
                )
            await self._session.flush()
            return [_record(r) for r in rows]


__all__ = ["SqlAlerts", "dedup_sha256"]
