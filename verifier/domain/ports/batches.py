"""The batches repository: batches, their items, and the items' leases.

Items are leased to one runner at a time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so
any replica may run them and a dead replica's leases expire; an item's key is the
request id of the check it starts, so an item run twice leads to the same check.
An accepted item's validated request is kept sealed until its check has started.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime

from verifier.domain.batches import (
    ACTIVE_ITEM_STATES,
    BatchCounts,
    BatchRecord,
    ClaimedItem,
    ItemRefusal,
    ItemState,
    NewItem,
)


def require_final(state: ItemState) -> None:
    """Refuse a state :meth:`BatchRepository.finish` cannot move an item to (an active one):
    a finished item that is QUEUED or RUNNING again would be run twice."""
    if state in ACTIVE_ITEM_STATES:
        raise ValueError(f"{state} is not a final state")


class BatchRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, batch: BatchRecord, items: Sequence[NewItem]) -> None:
        """Store a new batch and all its items (accepted ones QUEUED, refused ones with
        their refusal). A second batch with the same ``(caller_system, request_id)``
        raises :class:`~verifier.domain.errors.Conflict` (at the latest on commit)."""

    @abc.abstractmethod
    async def get(self, batch_id: str) -> BatchRecord | None: ...

    @abc.abstractmethod
    async def lock(self, batch_id: str) -> BatchRecord | None:
        """The batch, locked until the end of this unit of work."""

    @abc.abstractmethod
    async def find_by_request(self, caller_system: str, request_id: str) -> BatchRecord | None: ...

    @abc.abstractmethod
    async def counts(self, batch_id: str) -> BatchCounts:
        """Items per state."""

    @abc.abstractmethod
    async def refusals(self, batch_id: str) -> list[ItemRefusal]:
        """Every REFUSED or DENIED item, by index."""

    @abc.abstractmethod
    async def has_work(self, now: datetime) -> bool:
        """Whether an item is QUEUED, or RUNNING with an expired lease (a cheap read)."""

    @abc.abstractmethod
    async def claim(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[ClaimedItem]:
        """Lease up to ``limit`` items nobody holds — QUEUED ones, oldest batch first, and
        RUNNING ones whose lease expired — marking them RUNNING, owned by ``owner`` until
        ``until``. QUEUED items come with their request."""

    @abc.abstractmethod
    async def started(
        self, batch_id: str, index: int, owner: str, verification_id: str, until: datetime
    ) -> bool:
        """The item's check has started (its first report not issued yet): link it, drop
        the sealed request, and hold the lease until ``until``. False if ``owner`` no
        longer holds it."""

    @abc.abstractmethod
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
        """Move a held item to a final ``state`` (DONE, REFUSED, DENIED or CANCELLED),
        dropping its sealed request and its lease. False if ``owner`` no longer holds it."""

    @abc.abstractmethod
    async def cancel(self, batch_id: str, now: datetime) -> int:
        """Mark the batch cancelled and every QUEUED item CANCELLED; the number cancelled."""

    @abc.abstractmethod
    async def complete_if_finished(self, batch_id: str, now: datetime) -> BatchRecord | None:
        """If the batch is RUNNING and no item is QUEUED or RUNNING, make it DONE (or
        CANCELLED, if cancelling was asked) and return it; else None. Call it in the unit
        that finished an item, after the batch's row lock (:meth:`lock`)."""
