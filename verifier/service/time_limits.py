"""Time limits on whole checks, from the region's policy; and the overdue scan.

Each check gets its due date when its intent is recorded (see
:mod:`verifier.domain.time_limits`), from the parameters in force that day in the
policy of the household's region: ``check_due_working_days`` and ``urgent_due_hours``.
A region whose policy sets neither (or has no policy) gives its checks no due date.

:class:`OverdueScan` runs in every serving replica: it finds checks that passed their
due time unfinished, records each once (an ``anomaly`` audit entry with reason
``CHECK_OVERDUE``) and tells subscribers with a ``verification.overdue`` webhook event,
in the same transaction — whichever replica gets there first; the others find it flagged.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import structlog

from audit.entry import EntryDraft
from verifier import policy
from verifier.domain.ports import Store, UnitOfWork
from verifier.domain.ports.terms import CheckOrigin
from verifier.domain.time_limits import Due, TimeLimits, due_for
from verifier.domain.vocabulary import AuditAction
from verifier.domain.webhooks import verification_overdue
from verifier.policy.snapshot import Snapshot
from verifier.policy.specs import P
from verifier.service.audit_trail import SYSTEM_ACTOR
from verifier.service.background import run_rounds
from verifier.service.lanes import Lane

__all__ = ["CheckTerms", "OverdueScan", "due_in_region", "limits_in_region"]

log = structlog.get_logger("hedui.time_limits")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CheckTerms:
    """How a check is to be run: its lane at every source, whether it is urgent (急难),
    the batch that started it, and what started it (set by hedui's own use cases, never
    from a request field)."""

    lane: Lane = Lane.INTERACTIVE
    batch_id: str | None = None
    origin: CheckOrigin = CheckOrigin.INTERACTIVE

    @property
    def urgent(self) -> bool:
        return self.lane is Lane.URGENT

    @classmethod
    def interactive(cls, *, urgent: bool = False) -> CheckTerms:
        return cls(Lane.URGENT if urgent else Lane.INTERACTIVE)

    @classmethod
    def batch(cls, batch_id: str | None = None) -> CheckTerms:
        """A batch item's."""
        return cls(Lane.BATCH, batch_id, CheckOrigin.BATCH)

    @classmethod
    def roster(cls, *, urgent: bool = False) -> CheckTerms:
        """A roster re-check's: in the batch lane, or urgent when staff asked for one."""
        return cls(Lane.URGENT if urgent else Lane.BATCH, None, CheckOrigin.ROSTER)

    @classmethod
    def resumed(
        cls, urgent: bool, batch_id: str | None, origin: CheckOrigin = CheckOrigin.INTERACTIVE
    ) -> CheckTerms:
        """The terms of a check run again after its process died, from what was stored."""
        if urgent:
            return cls(Lane.URGENT, batch_id, origin)
        if batch_id or origin is not CheckOrigin.INTERACTIVE:
            return cls(Lane.BATCH, batch_id, origin)
        return cls(Lane.INTERACTIVE, batch_id, origin)


@functools.lru_cache(maxsize=256)
def limits_in_region(region: str, day: date) -> TimeLimits | None:
    """The region's limits in force on ``day``; None when its policy sets none."""
    try:
        pol = policy.load_policy(region)
    except policy.PolicyError:
        return None
    snap = Snapshot(pol, day)
    days, hours = snap.check_due_working_days, snap.urgent_due_hours
    if days is None or hours is None:
        return None
    return TimeLimits(days, hours, snap.ref(P.check_due_working_days.name))


def due_in_region(region: str, started_at: datetime, *, urgent: bool) -> Due | None:
    """When a check of a household in ``region`` started at ``started_at`` is due."""
    limits = limits_in_region(region, started_at.date())
    return None if limits is None else due_for(started_at, limits, urgent=urgent)


class OverdueScan:
    """Flags checks that passed their due time unfinished: once each, audited, with a
    ``verification.overdue`` webhook event in the same transaction."""

    def __init__(
        self,
        store: Store,
        *,
        batch: int = 100,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._batch = batch
        self._clock = clock

    async def tick(self) -> int:
        """One round; returns how many checks it flagged."""
        now = self._clock()
        async with self._store.unit_of_work(write=False) as uow:
            found = await uow.terms.overdue_unflagged(now, self._batch)
        if not found:
            return 0

        async def flag(uow: UnitOfWork) -> int:
            flagged = 0
            for record, terms in found:
                if terms.due_date is None or not await uow.terms.flag_overdue(record.id, now):
                    continue  # another replica flagged it first
                flagged += 1
                await uow.audit.append(
                    [
                        EntryDraft(
                            actor=SYSTEM_ACTOR,
                            action=AuditAction.ANOMALY.value,
                            outcome="flagged",
                            case_id=record.case_id,
                            verification_id=record.id,
                            reason="CHECK_OVERDUE",
                            details={
                                "due_date": terms.due_date.isoformat(),
                                "urgent": terms.urgent,
                                "state": record.state.value,
                            },
                        )
                    ]
                )
                await uow.outbox.add(
                    verification_overdue(
                        verification_id=record.id,
                        case_id=record.case_id,
                        due_date=terms.due_date,
                        at=now,
                    )
                )
            return flagged

        flagged = await self._store.write(flag)
        if flagged:
            log.info("checks_overdue", flagged=flagged)
        return flagged

    async def run(self, stop: asyncio.Event, interval: float = 60.0) -> None:
        """Scan until ``stop`` is set; after a round that flagged a full batch, at once."""
        # A failed round (a database outage) does not end the scan: it is retried next round.
        await run_rounds(
            self.tick,
            stop,
            interval,
            log=log,
            failed="overdue_scan_failed",
            again=lambda flagged: flagged >= self._batch,
        )
