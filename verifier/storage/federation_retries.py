"""Asks to federation peers to be made again, on SQLAlchemy: leased like polls, with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL so processes claim different retries without
waiting for each other; a dead process's leases expire."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hedui_sdk import SourceKind
from verifier.domain.ports.federation_retries import FederationRetryRepository, PeerRetry
from verifier.storage.guard import guard
from verifier.storage.insert_new import insert_new
from verifier.storage.models_federation import FederationRetryRow


def _retry(row: FederationRetryRow) -> PeerRetry:
    return PeerRetry(
        verification_id=row.verification_id,
        peer=row.peer,
        ask_request_id=row.ask_request_id,
        members=tuple(int(m) for m in row.members.split()),
        sources=tuple(SourceKind(s) for s in row.sources.split()),
        deadline_at=row.deadline_at,
        next_at=row.next_at,
        attempts=row.attempts,
    )


def _changed(result: Result[Any]) -> bool:
    """Whether an UPDATE or DELETE matched a row."""
    return bool(cast(CursorResult[Any], result).rowcount)


class SqlFederationRetries(FederationRetryRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def schedule(self, retry: PeerRetry) -> None:
        values = {
            "verification_id": retry.verification_id,
            "peer": retry.peer,
            "ask_request_id": retry.ask_request_id,
            "members": " ".join(str(m) for m in retry.members),
            "sources": " ".join(s.value for s in retry.sources),
            "deadline_at": retry.deadline_at,
            "next_at": retry.next_at,
            "attempts": retry.attempts,
            "lease_owner": None,
            "lease_until": None,
        }
        async with guard():
            # A kept retry stands: its deadline, attempts and lease are not reset.
            await insert_new(self._s, FederationRetryRow, values)

    async def claim_due(
        self, now: datetime, owner: str, lease: timedelta, limit: int
    ) -> list[PeerRetry]:
        r = FederationRetryRow
        q = (
            select(r)
            .where(r.next_at <= now, or_(r.lease_until.is_(None), r.lease_until < now))
            .order_by(r.next_at, r.verification_id, r.peer, r.ask_request_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            # A row this session holds may be stale: schedule upserts past the ORM.
            .execution_options(populate_existing=True)
        )
        async with guard():
            rows = (await self._s.execute(q)).scalars().all()
            for row in rows:
                row.lease_owner = owner
                row.lease_until = now + lease
            await self._s.flush()
        return [_retry(row) for row in rows]

    async def reschedule(
        self,
        verification_id: str,
        peer: str,
        ask_request_id: str,
        next_at: datetime,
        attempts: int,
        owner: str,
    ) -> bool:
        r = FederationRetryRow
        async with guard():
            result = await self._s.execute(
                update(r)
                .where(
                    r.verification_id == verification_id,
                    r.peer == peer,
                    r.ask_request_id == ask_request_id,
                    r.lease_owner == owner,
                )
                .values(next_at=next_at, attempts=attempts, lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
        return _changed(result)

    async def finish(
        self, verification_id: str, peer: str, ask_request_id: str, owner: str | None = None
    ) -> bool:
        r = FederationRetryRow
        q = delete(r).where(
            r.verification_id == verification_id,
            r.peer == peer,
            r.ask_request_id == ask_request_id,
        )
        if owner is not None:
            q = q.where(r.lease_owner == owner)
        async with guard():
            result = await self._s.execute(q.execution_options(synchronize_session=False))
        return _changed(result)

    async def holds(self, verification_id: str, peer: str, ask_request_id: str, owner: str) -> bool:
        r = FederationRetryRow
        q = (
            select(r.lease_owner)
            .where(
                r.verification_id == verification_id,
                r.peer == peer,
                r.ask_request_id == ask_request_id,
            )
            # Locked until the transaction ends: no other process claims it meanwhile.
            .with_for_update()
        )
        async with guard():
            row = (await self._s.execute(q)).first()
        return row is not None and row.lease_owner == owner

    async def pending(self, verification_id: str) -> bool:
        r = FederationRetryRow
        q = select(r.peer).where(r.verification_id == verification_id).limit(1)
        async with guard():
            return (await self._s.execute(q)).first() is not None

    async def has_due(self, now: datetime) -> bool:
        r = FederationRetryRow
        q = (
            select(r.peer)
            .where(r.next_at <= now, or_(r.lease_until.is_(None), r.lease_until < now))
            .limit(1)
        )
        async with guard():
            return (await self._s.execute(q)).first() is not None
