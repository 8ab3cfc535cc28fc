"""Work that outlives a request: late answers from asynchronous sources, and runs whose
process died. Leased from the database so any replica can do it and a dead replica's
leases simply expire (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import structlog

from hedui_sdk import SourceKind
from verifier.domain.outcomes import SourceOutcome, SourceStatus, next_poll_at
from verifier.domain.ports import PollLease, Store
from verifier.service.background import run_rounds
from verifier.service.fanout import FanOut
from verifier.service.verifications import VerificationService

log = structlog.get_logger("hedui.poller")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Poller:
    def __init__(
        self,
        service: VerificationService,
        store: Store,
        fanout: FanOut,
        *,
        batch: int = 32,
        lease_seconds: float = 60.0,
        max_backoff_seconds: float = 600.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._service = service
        self._store = store
        self._fanout = fanout
        self._batch = batch
        self._lease = timedelta(seconds=lease_seconds)
        self._max_backoff = max_backoff_seconds
        self._clock = clock
        self._resumes: set[asyncio.Task[None]] = set()

    @property
    def owner(self) -> str:
        return self._service.owner

    async def tick(self) -> int:
        """One round: claim stale runs and due polls, act on them. Returns work done."""
        now = self._clock()
        # A read first: an idle replica must not take the write lock every round (on
        # SQLite that would queue every request behind it).
        async with self._store.unit_of_work(write=False) as uow:
            if not await uow.polls.has_due_work(now):
                return 0
        async with self._store.unit_of_work(write=True) as uow:
            stale = await uow.polls.claim_stale_runs(
                self.owner, now, now + self._lease, self._batch
            )
            leases = await uow.polls.lease(self.owner, now, now + self._lease, self._batch)
            await uow.commit()
        for vid in stale:
            task = asyncio.create_task(self._service.resume(vid), name=f"resume-{vid}")
            self._resumes.add(task)
            task.add_done_callback(self._resumes.discard)
        if leases:
            await self._poll_all(leases)
        return len(stale) + len(leases)

    async def _members(self, leases: list[PollLease]) -> dict[tuple[str, int], tuple[str, ...]]:
        """Each leased member's ID number and name, to be redacted from failure reasons."""
        known: dict[tuple[str, int], tuple[str, ...]] = {}
        async with self._store.unit_of_work(write=False) as uow:
            for vid in {le.verification_id for le in leases}:
                request = await uow.verifications.load_request(vid)
                for i, member in enumerate(request.household.members):
                    known[(vid, i)] = (member.subject.id_number, member.subject.name)
        return known

    async def _poll_all(self, leases: list[PollLease]) -> None:
        answered: dict[str, list[SourceOutcome]] = {}
        overdue: dict[str, list[SourceOutcome]] = {}
        known = await self._members(leases)
        for lease, (outcome, again) in zip(
            leases,
            await asyncio.gather(
                *(
                    self._fanout.poll(
                        le.member_index,
                        SourceKind(le.source),
                        le.ticket,
                        known=known.get((le.verification_id, le.member_index), ()),
                    )
                    for le in leases
                )
            ),
            strict=True,
        ):
            if not again:
                answered.setdefault(lease.verification_id, []).append(
                    replace(outcome, due_at=lease.due_at)
                )
                continue
            now = self._clock()
            if lease.due_at and now > lease.due_at and not lease.overdue_flagged:
                # Tell the case system once, with a new report version, that this source
                # is late; keep polling.
                base = outcome
                if outcome.status is not SourceStatus.PENDING:
                    base = self._pending(lease, outcome)
                flagged = replace(
                    base,
                    due_at=lease.due_at,
                    overdue_flagged=True,
                    reason=f"overdue: no answer by {lease.due_at:%Y-%m-%d}",
                )
                overdue.setdefault(lease.verification_id, []).append(flagged)
                continue
            await self._reschedule(lease, outcome, now)
        releases = [(vid, outcomes, False) for vid, outcomes in answered.items()]
        releases += [(vid, outcomes, True) for vid, outcomes in overdue.items()]
        for vid, outcomes, late in releases:
            try:
                await self._service.release_late(vid, outcomes, poll_owner=self.owner, overdue=late)
            except Exception as exc:
                # One verification's failure must not drop the answers fetched for the
                # others; its own polls stay leased and are asked again when that expires.
                log.warning("late_release_failed", verification_id=vid, error=type(exc).__name__)

    def _pending(self, lease: PollLease, failed: SourceOutcome) -> SourceOutcome:
        return replace(failed, status=SourceStatus.PENDING, ticket=lease.ticket, records=())

    async def _reschedule(self, lease: PollLease, outcome: SourceOutcome, now: datetime) -> None:
        if outcome.status is SourceStatus.PENDING:
            wait = outcome.retry_after
            reason = ""
        else:
            # The source failed transiently while we wait for its answer: back off.
            wait = min(self._max_backoff, 2.0 ** min(lease.poll_attempts, 10))
            reason = f"still pending; last poll failed: {outcome.reason}"
        at = next_poll_at(now, wait, lease.due_at, lease.overdue_flagged)
        async with self._store.unit_of_work(write=True) as uow:
            if await uow.polls.reschedule(lease, self.owner, at, reason):
                await uow.commit()

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Tick until ``stop`` is set; idle rounds wait ``interval`` (or for ``stop``)."""
        # A failed round (a database outage) does not end the loop: the work stays leased
        # in the database and is retried here or by another replica.
        await run_rounds(self.tick, stop, interval, log=log, failed="poller_round_failed")

    async def drain(self) -> None:
        """Wait for the resumed runs this poller started."""
        await asyncio.gather(*list(self._resumes), return_exceptions=True)

    async def aclose(self) -> None:
        for t in list(self._resumes):
            t.cancel()
        await asyncio.gather(*self._resumes, return_exceptions=True)
