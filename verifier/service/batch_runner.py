"""Running the items of batches: leased from the database, so every serving replica takes
a share and a dead replica's items are taken over when their leases expire.

Each item is one check, started through the same intake as CreateVerification (the same
authorization, 授权书 check, audit entries and report) at batch priority at every
source. Its key is the check's request id: an item run again after a crash leads back
to the check already recorded instead of a second one. An item is DONE when its check
has issued its first report (later versions follow as for any check); DENIED when the
check was refused (authorization, volume); REFUSED when its key was used for another
request. The last item to finish completes its batch, with the ``batch.completed``
webhook event in the same transaction. A new item waits (up to a second) while an urgent
or interactive check in this process has not issued its first report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from verifier.domain.batches import ClaimedItem, ItemRefusal, ItemState
from verifier.domain.caller import Caller
from verifier.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
)
from verifier.domain.ports import Store, UnitOfWork
from verifier.service.background import run_rounds
from verifier.service.batches import BatchNotices, completed_in
from verifier.service.time_limits import CheckTerms
from verifier.service.verifications import VerificationService, VerificationView

__all__ = ["BatchRunner"]

log = structlog.get_logger("hedui.batches")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BatchRunner:
    """Claims batch items and runs them, ``concurrency`` at a time in this process."""

    def __init__(
        self,
        store: Store,
        service: VerificationService,
        notices: BatchNotices,
        *,
        concurrency: int = 16,
        lease_seconds: float = 120.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._service = service
        self._notices = notices
        self._concurrency = concurrency
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()

    @property
    def owner(self) -> str:
        return self._service.owner

    @property
    def running(self) -> int:
        return len(self._tasks)

    # ------------------------------------------------------------------ loop
    async def tick(self) -> int:
        """Claim as many items as there is room for and start them; how many it claimed."""
        room = self._concurrency - len(self._tasks)
        if room <= 0:
            return 0
        now = self._clock()
        async with self._store.unit_of_work(write=False) as uow:
            if not await uow.batches.has_work(now):
                return 0

        async def claim(uow: UnitOfWork) -> list[ClaimedItem]:
            return await uow.batches.claim(self.owner, now, now + self._lease, room)

        items = await self._store.write(claim)
        for item in items:
            task = asyncio.create_task(self._run(item), name=f"batch-{item.batch_id}-{item.index}")
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        return len(items)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.set()

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Claim and run items until ``stop`` is set; an idle round waits ``interval``,
        or less when a batch is submitted here or an item finishes."""
        # A failed round (a database outage) does not end the loop: the items stay stored.
        await run_rounds(
            self.tick,
            stop,
            interval,
            log=log,
            failed="batch_round_failed",
            again=lambda claimed: claimed > 0 and len(self._tasks) < self._concurrency,
            wake=self._wake,
        )

    def _wake(self) -> asyncio.Event:
        """What ends a pause early. Full: room for an item. Idle: a batch submitted here."""
        self._room.clear()
        self._notices.submitted.clear()
        return self._room if len(self._tasks) >= self._concurrency else self._notices.submitted

    async def drain(self) -> None:
        """Wait for the items this runner has started."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ one item
    async def _run(self, item: ClaimedItem) -> None:
        try:
            await self._item(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Left RUNNING: its lease expires and it is taken again (by key, never twice).
            log.warning(
                "batch_item_failed",
                batch_id=item.batch_id,
                index=item.index,
                error=type(exc).__name__,
            )
        finally:
            self._notices.changed(item.batch_id)

    async def _item(self, item: ClaimedItem) -> None:
        if item.verification_id is not None:
            # Started before (here or by a replica that stopped): has it reported yet?
            await self._settle(item, await self._service.view(item.verification_id))
            return
        if item.cancel_requested:
            await self._finish(item, ItemState.CANCELLED)
            return
        if item.request is None:
            # Not started, yet its sealed request is gone: nothing could ever run it.
            log.error("batch_item_without_request", batch_id=item.batch_id, index=item.index)
            gone = FieldViolation(f"items[{item.index}]", "its request is no longer held")
            await self._refused(item, (gone,))
            return
        caller = Caller(item.caller_system, item.caller_user, item.caller_role, item.caller_regions)
        await self._service.batch_turn()
        try:
            view = await self._service.create_checked(
                caller, item.request, wait=True, terms=CheckTerms.batch(item.batch_id)
            )
        except (PermissionDenied, ResourceExhausted) as refused:
            denial = ItemRefusal(item.index, item.item_key, ItemState.DENIED, reason=refused.reason)
            await self._finish(item, ItemState.DENIED, refusal=denial)
            return
        except FailedPrecondition:
            violation = FieldViolation(
                f"items[{item.index}].item_key", "was already used for a different request"
            )
            await self._refused(item, (violation,))
            return
        except InvalidArgument as exc:
            prefix = f"items[{item.index}].request."
            await self._refused(
                item, tuple(FieldViolation(prefix + v.field, v.description) for v in exc.violations)
            )
            return
        await self._settle(item, view)

    async def _refused(self, item: ClaimedItem, violations: tuple[FieldViolation, ...]) -> None:
        refusal = ItemRefusal(item.index, item.item_key, ItemState.REFUSED, violations)
        await self._finish(item, ItemState.REFUSED, refusal=refusal)

    async def _settle(self, item: ClaimedItem, view: VerificationView) -> None:
        """DONE once the check has a report; else hold the item and look again later."""
        vid = view.record.id
        if view.record.latest_version >= 1:
            await self._finish(item, ItemState.DONE, verification_id=vid)
            return
        until = self._clock() + self._lease

        async def started(uow: UnitOfWork) -> bool:
            return await uow.batches.started(item.batch_id, item.index, self.owner, vid, until)

        await self._store.write(started)

    async def _finish(
        self,
        item: ClaimedItem,
        state: ItemState,
        *,
        verification_id: str | None = None,
        refusal: ItemRefusal | None = None,
    ) -> None:
        now = self._clock()

        async def finish(uow: UnitOfWork) -> bool:
            held = await uow.batches.finish(
                item.batch_id,
                item.index,
                self.owner,
                state,
                now,
                verification_id=verification_id,
                refusal=refusal,
            )
            if held:
                await completed_in(uow, item.batch_id, now)
            return held

        if not await self._store.write(finish):
            log.info("batch_item_lease_lost", batch_id=item.batch_id, index=item.index)
