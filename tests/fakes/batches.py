"""In-memory batches and verification terms: the ports' contract without a database.

They keep the contract the SQL adapters keep (``verifier/storage/batches.py``,
``verifier/storage/terms.py``): a second batch of the same request is a Conflict, items
are leased as ``FOR UPDATE SKIP LOCKED`` would lease them for one process, and searches
order newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

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
from verifier.domain.errors import Conflict
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports import (
    BatchRepository,
    ListedVerification,
    TermsRepository,
    VerificationQuery,
    VerificationRecord,
    VerificationTerms,
)
from verifier.domain.ports.batches import require_final

if TYPE_CHECKING:
    from tests.fakes.tables import Tables


@dataclass(frozen=True, slots=True)
class ItemRow:
    item_key: str
    state: ItemState
    queued_at: datetime
    request: VerificationRequest | None = None
    verification_id: str | None = None
    refusal: ItemRefusal | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None


@dataclass(slots=True)
class BatchTables:
    batches: dict[str, BatchRecord] = field(default_factory=dict)
    items: dict[tuple[str, int], ItemRow] = field(default_factory=dict)
    terms: dict[str, VerificationTerms] = field(default_factory=dict)

    def copy(self) -> BatchTables:
        return BatchTables(dict(self.batches), dict(self.items), dict(self.terms))


class InMemoryBatches(BatchRepository):
    def __init__(self, tables: BatchTables) -> None:
        self._t = tables

    async def add(self, batch: BatchRecord, items: Sequence[NewItem]) -> None:
        if batch.id in self._t.batches or await self.find_by_request(
            batch.caller_system, batch.request_id
        ):
            raise Conflict("a concurrent request changed the same record")
        self._t.batches[batch.id] = batch
        for item in items:
            self._t.items[(batch.id, item.index)] = ItemRow(
                item.item_key, item.state, batch.created_at, item.request, None, item.refusal
            )

    async def get(self, batch_id: str) -> BatchRecord | None:
        return self._t.batches.get(batch_id)

    async def lock(self, batch_id: str) -> BatchRecord | None:
        # Write units of work run one at a time (the store's write lock): already locked.
        return self._t.batches.get(batch_id)

    async def find_by_request(self, caller_system: str, request_id: str) -> BatchRecord | None:
        for b in self._t.batches.values():
            if (b.caller_system, b.request_id) == (caller_system, request_id):
                return b
        return None

    def _items(self, batch_id: str) -> list[tuple[int, ItemRow]]:
        return sorted((i, row) for (b, i), row in self._t.items.items() if b == batch_id)

    async def counts(self, batch_id: str) -> BatchCounts:
        by_state: dict[ItemState, int] = {}
        for _, row in self._items(batch_id):
            by_state[row.state] = by_state.get(row.state, 0) + 1
        return BatchCounts.of(by_state)

    async def refusals(self, batch_id: str) -> list[ItemRefusal]:
        out = []
        for i, row in self._items(batch_id):
            if row.state in (ItemState.REFUSED, ItemState.DENIED):
                stored = row.refusal or ItemRefusal(i, row.item_key, row.state)
                out.append(replace(stored, index=i, item_key=row.item_key, state=row.state))
        return out

    @staticmethod
    def _claimable(row: ItemRow, now: datetime) -> bool:
        return row.state is ItemState.QUEUED or (
            row.state is ItemState.RUNNING and row.lease_until is not None and row.lease_until < now
        )

    async def has_work(self, now: datetime) -> bool:
        return any(self._claimable(r, now) for r in self._t.items.values())

    async def claim(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[ClaimedItem]:
        due = sorted(
            ((row.queued_at, key), row)
            for key, row in self._t.items.items()
            if self._claimable(row, now)
        )[:limit]
        out = []
        for (_, key), row in due:
            self._t.items[key] = replace(
                row, state=ItemState.RUNNING, lease_owner=owner, lease_until=until
            )
            b = self._t.batches[key[0]]
            out.append(
                ClaimedItem(
                    batch_id=key[0],
                    index=key[1],
                    item_key=row.item_key,
                    caller_system=b.caller_system,
                    caller_user=b.caller_user,
                    caller_role=b.caller_role,
                    caller_regions=b.caller_regions,
                    cancel_requested=b.cancel_requested,
                    verification_id=row.verification_id,
                    request=row.request if row.verification_id is None else None,
                )
            )
        return out

    def _held(self, batch_id: str, index: int, owner: str) -> ItemRow | None:
        row = self._t.items.get((batch_id, index))
        if row is None or row.state is not ItemState.RUNNING or row.lease_owner != owner:
            return None
        return row

    async def started(
        self, batch_id: str, index: int, owner: str, verification_id: str, until: datetime
    ) -> bool:
        row = self._held(batch_id, index, owner)
        if row is None:
            return False
        self._t.items[(batch_id, index)] = replace(
            row, verification_id=verification_id, request=None, lease_until=until
        )
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
        row = self._held(batch_id, index, owner)
        if row is None:
            return False
        self._t.items[(batch_id, index)] = replace(
            row,
            state=state,
            verification_id=verification_id or row.verification_id,
            refusal=refusal,
            request=None,
            lease_owner=None,
            lease_until=None,
        )
        return True

    async def cancel(self, batch_id: str, now: datetime) -> int:
        b = self._t.batches.get(batch_id)
        if b is None:
            return 0
        self._t.batches[batch_id] = replace(b, cancel_requested=True)
        n = 0
        for i, row in self._items(batch_id):
            if row.state is ItemState.QUEUED:
                self._t.items[(batch_id, i)] = replace(row, state=ItemState.CANCELLED, request=None)
                n += 1
        return n

    async def complete_if_finished(self, batch_id: str, now: datetime) -> BatchRecord | None:
        b = self._t.batches.get(batch_id)
        if b is None or b.state is not BatchState.RUNNING:
            return None
        if any(row.state in ACTIVE_ITEM_STATES for _, row in self._items(batch_id)):
            return None
        state = BatchState.CANCELLED if b.cancel_requested else BatchState.DONE
        done = replace(b, state=state, completed_at=now)
        self._t.batches[batch_id] = done
        return done


class InMemoryTerms(TermsRepository):
    def __init__(self, tables: Tables) -> None:
        self._all = tables
        self._t = tables.batches

    async def add(self, terms: VerificationTerms) -> None:
        if terms.verification_id in self._t.terms:
            raise Conflict("a concurrent request changed the same record")
        self._t.terms[terms.verification_id] = terms

    async def get(self, verification_id: str) -> VerificationTerms | None:
        return self._t.terms.get(verification_id)

    @staticmethod
    def _overdue(r: VerificationRecord, t: VerificationTerms | None, now: datetime) -> bool:
        return (
            t is not None
            and t.due_at is not None
            and t.due_at < now
            and r.state is not VerificationState.DONE
        )

    def _matches(
        self, q: VerificationQuery, r: VerificationRecord, t: VerificationTerms | None
    ) -> bool:
        checks = [
            r.caller_system == q.caller_system,
            any(r.region.startswith(p) for p in q.regions),
            r.region.startswith(q.region_prefix),
            not q.case_id or r.case_id == q.case_id,
            q.state is None or r.state is q.state,
            q.created_from is None or r.created_at >= q.created_from,
            q.created_before is None or r.created_at < q.created_before,
            q.overdue is None or self._overdue(r, t, q.now) == q.overdue,
            q.urgent is None or (t is not None and t.urgent) == q.urgent,
            not q.batch_id or (t is not None and t.batch_id == q.batch_id),
            q.after is None or (r.created_at, r.id) < q.after,
        ]
        return all(checks)

    async def search(self, query: VerificationQuery) -> list[ListedVerification]:
        rows = [
            ListedVerification(v.record, self._t.terms.get(vid))
            for vid, v in self._all.verifications.items()
        ]
        hits = [x for x in rows if self._matches(query, x.record, x.terms)]
        hits.sort(key=lambda x: (x.record.created_at, x.record.id), reverse=True)
        return hits[: query.limit]

    async def overdue_unflagged(
        self, now: datetime, limit: int
    ) -> list[tuple[VerificationRecord, VerificationTerms]]:
        out = [
            (v.record, t)
            for vid, v in self._all.verifications.items()
            if (t := self._t.terms.get(vid)) is not None
            and t.overdue_flagged_at is None
            and self._overdue(v.record, t, now)
        ]
        out.sort(key=lambda x: x[1].due_at or now)
        return out[:limit]

    async def flag_overdue(self, verification_id: str, now: datetime) -> bool:
        t = self._t.terms.get(verification_id)
        if t is None or t.overdue_flagged_at is not None:
            return False
        self._t.terms[verification_id] = replace(t, overdue_flagged_at=now)
        return True
