"""Batches and their items on SQLAlchemy; items leased with ``FOR UPDATE SKIP LOCKED``
(PostgreSQL), so replicas share the work without waiting for each other."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.batches import (
    ACTIVE_ITEM_STATES,
    BatchCounts,
    BatchRecord,
    BatchState,
    ClaimedItem,
    ItemRefusal,
    ItemState,
    NewItem,
)
from verifier.domain.errors import FieldViolation
from verifier.domain.household import request_from_json, request_to_json
from verifier.domain.ports.batches import BatchRepository, require_final
from verifier.storage.guard import guard
from verifier.storage.models_batches import BatchItemRow, BatchRow
from verifier.storage.sealing import Sealer

_ACTIVE = [s.value for s in ACTIVE_ITEM_STATES]
_REFUSALS = [ItemState.REFUSED.value, ItemState.DENIED.value]


def _aad(batch_id: str, index: int) -> str:
    return f"batch_items/{batch_id}/{index}"


def _record(row: BatchRow) -> BatchRecord:
    return BatchRecord(
        id=row.id,
        caller_system=row.caller_system,
        caller_user=row.caller_user,
        caller_role=row.caller_role,
        caller_region=row.caller_region,
        request_id=row.request_id,
        request_digest=row.request_digest,
        state=BatchState(row.state),
        item_count=row.item_count,
        created_at=row.created_at,
        completed_at=row.completed_at,
        cancel_requested=row.cancel_requested,
    )


def _violations_json(refusal: ItemRefusal | None) -> str:
    if refusal is None or not refusal.violations:
        return ""
    return json.dumps([[v.field, v.description] for v in refusal.violations], ensure_ascii=False)


def _refusal(row: BatchItemRow) -> ItemRefusal:
    pairs = json.loads(row.violations_json) if row.violations_json else []
    return ItemRefusal(
        index=row.item_index,
        item_key=row.item_key,
        state=ItemState(row.state),
        violations=tuple(FieldViolation(str(f), str(d)) for f, d in pairs),
        reason=row.reason,
    )


class SqlBatches(BatchRepository):
    def __init__(self, session: AsyncSession, sealer: Sealer) -> None:
        self._session = session
        self._sealer = sealer

    async def add(self, batch: BatchRecord, items: Sequence[NewItem]) -> None:
        rows: list[dict[str, Any]] = []
        for item in items:
            sealed: bytes | None = None
            kid = ""
            if item.request is not None:
                plain = json.dumps(request_to_json(item.request), ensure_ascii=False).encode()
                sealed, kid = self._sealer.seal(plain, _aad(batch.id, item.index))
            rows.append(
                {
                    "batch_id": batch.id,
                    "item_index": item.index,
                    "item_key": item.item_key,
                    "state": item.state.value,
                    "queued_at": batch.created_at,
                    "updated_at": batch.created_at,
                    "verification_id": None,
                    "violations_json": _violations_json(item.refusal),
                    "reason": item.refusal.reason if item.refusal else "",
                    "request_sealed": sealed,
                    "request_key_id": kid,
                    "lease_owner": None,
                    "lease_until": None,
                }
            )
        async with guard():
            await self._session.execute(
                insert(BatchRow).values(
                    id=batch.id,
                    caller_system=batch.caller_system,
                    caller_user=batch.caller_user,
                    caller_role=batch.caller_role,
                    caller_region=batch.caller_region,
                    request_id=batch.request_id,
                    request_digest=batch.request_digest,
                    state=batch.state.value,
                    item_count=batch.item_count,
                    cancel_requested=False,
                    created_at=batch.created_at,
                    updated_at=batch.created_at,
                    completed_at=None,
                )
            )
            await self._session.execute(insert(BatchItemRow), rows)

    async def get(self, batch_id: str) -> BatchRecord | None:
        async with guard():
            row = await self._session.get(BatchRow, batch_id)
        return _record(row) if row else None

    async def lock(self, batch_id: str) -> BatchRecord | None:
        async with guard():
            row = (
                await self._session.execute(
                    select(BatchRow).where(BatchRow.id == batch_id).with_for_update()
                )
            ).scalar_one_or_none()
        return _record(row) if row else None

    async def find_by_request(self, caller_system: str, request_id: str) -> BatchRecord | None:
        async with guard():
            row = (
                await self._session.execute(
                    select(BatchRow).where(
                        BatchRow.caller_system == caller_system,
                        BatchRow.request_id == request_id,
                    )
                )
            ).scalar_one_or_none()
        return _record(row) if row else None

    async def counts(self, batch_id: str) -> BatchCounts:
        async with guard():
            rows = (
                await self._session.execute(
                    select(BatchItemRow.state, func.count())
                    .where(BatchItemRow.batch_id == batch_id)
                    .group_by(BatchItemRow.state)
                )
            ).all()
        return BatchCounts.of({ItemState(s): int(n) for s, n in rows})

    async def refusals(self, batch_id: str) -> list[ItemRefusal]:
        async with guard():
            rows = (
                (
                    await self._session.execute(
                        select(BatchItemRow)
                        .where(
                            BatchItemRow.batch_id == batch_id,
                            BatchItemRow.state.in_(_REFUSALS),
                        )
                        .order_by(BatchItemRow.item_index)
                    )
                )
                .scalars()
                .all()
            )
        return [_refusal(r) for r in rows]

    def _claimable(self, now: datetime) -> Any:
        return or_(
            BatchItemRow.state == ItemState.QUEUED.value,
            (BatchItemRow.state == ItemState.RUNNING.value) & (BatchItemRow.lease_until < now),
        )

    async def has_work(self, now: datetime) -> bool:
        async with guard():
            found = await self._session.execute(
                select(BatchItemRow.batch_id).where(self._claimable(now)).limit(1)
            )
            return found.first() is not None

    async def claim(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[ClaimedItem]:
        async with guard():
            rows = (
                (
                    await self._session.execute(
                        select(BatchItemRow)
                        .where(self._claimable(now))
                        .order_by(
                            BatchItemRow.queued_at, BatchItemRow.batch_id, BatchItemRow.item_index
                        )
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                return []
            batch_ids = {r.batch_id for r in rows}
            batches = {
                b.id: b
                for b in (
                    await self._session.execute(select(BatchRow).where(BatchRow.id.in_(batch_ids)))
                ).scalars()
            }
            claimed = []
            for r in rows:
                r.state = ItemState.RUNNING.value
                r.lease_owner = owner
                r.lease_until = until
                r.updated_at = now
                b = batches[r.batch_id]
                request = None
                if r.request_sealed is not None and r.verification_id is None:
                    plain = self._sealer.open(
                        r.request_sealed, r.request_key_id, _aad(r.batch_id, r.item_index)
                    )
                    request = request_from_json(json.loads(plain))
                claimed.append(
                    ClaimedItem(
                        batch_id=r.batch_id,
                        index=r.item_index,
                        item_key=r.item_key,
                        caller_system=b.caller_system,
                        caller_user=b.caller_user,
                        caller_role=b.caller_role,
                        caller_regions=_record(b).caller_regions,
                        cancel_requested=b.cancel_requested,
                        verification_id=r.verification_id,
                        request=request,
                    )
                )
            await self._session.flush()
            return claimed

    async def _held(self, batch_id: str, index: int, owner: str) -> BatchItemRow | None:
        row = await self._session.get(BatchItemRow, (batch_id, index), with_for_update=True)
        if row is None or row.state != ItemState.RUNNING.value or row.lease_owner != owner:
            return None
        return row

    async def started(
        self, batch_id: str, index: int, owner: str, verification_id: str, until: datetime
    ) -> bool:
        async with guard():
            row = await self._held(batch_id, index, owner)
            if row is None:
                return False
            row.verification_id = verification_id
            row.request_sealed = None
            row.lease_until = until
            await self._session.flush()
            return True

    async def finish(
        self,
        batch_id: str,
        index: int,
        owner: str,
        state: ItemState,
        now: datetime,
        *,
        verification_id: str | None = None,
        refusal: ItemRefusal | None = None,
    ) -> bool:
        require_final(state)
        async with guard():
            row = await self._held(batch_id, index, owner)
            if row is None:
                return False
            row.state = state.value
            row.verification_id = verification_id or row.verification_id
            row.violations_json = _violations_json(refusal)
            row.reason = refusal.reason if refusal else ""
            row.request_sealed = None
            row.lease_owner = None
            row.lease_until = None
            row.updated_at = now
            await self._session.flush()
            return True

    async def cancel(self, batch_id: str, now: datetime) -> int:
        async with guard():
            await self._session.execute(
                update(BatchRow)
                .where(BatchRow.id == batch_id)
                .values(cancel_requested=True, updated_at=now)
            )
            result = await self._session.execute(
                update(BatchItemRow)
                .where(
                    BatchItemRow.batch_id == batch_id,
                    BatchItemRow.state == ItemState.QUEUED.value,
                )
                .values(state=ItemState.CANCELLED.value, request_sealed=None, updated_at=now)
            )
        return int(cast(CursorResult[Any], result).rowcount)

    async def complete_if_finished(self, batch_id: str, now: datetime) -> BatchRecord | None:
        async with guard():
            row = await self._session.get(BatchRow, batch_id)
            if row is None or row.state != BatchState.RUNNING.value:
                return None
            active = await self._session.execute(
                select(BatchItemRow.item_index)
                .where(BatchItemRow.batch_id == batch_id, BatchItemRow.state.in_(_ACTIVE))
                .limit(1)
            )
            if active.first() is not None:
                return None
            row.state = (BatchState.CANCELLED if row.cancel_requested else BatchState.DONE).value
            row.completed_at = now
            row.updated_at = now
            await self._session.flush()
            return _record(row)
