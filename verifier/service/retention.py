"""Retention (档案 and 安全保密): personal data gathered for a check is kept as long as its
region's rules require (:mod:`verifier.policy.retention`) and no longer.

A run, under one lease so that only one replica purges at a time:

1. ``reports``: a done check whose ``retention_report_months`` ran out (counted from the
   day it was done, with the value in force that day) loses its report versions' sealed
   envelopes and its sealed request (the raw ID numbers);
2. ``source_records``: likewise with ``retention_source_records_months``, the sealed
   records and tickets of its outcomes;
3. ``cache``: cached answers older than the shortest ``retention_cache_days`` in force;
4. ``webhooks``: webhook events every subscriber acknowledged, older than the shortest
   ``retention_source_records_months`` in force, with their deliveries and attempts;
5. ``federation_answers``: answers this deployment gave federation peers (signed
   fragments with members' records), older than the shortest
   ``retention_source_records_months`` in force.

The fragments peers gave a check (requester side) hold records too: their sealed
envelopes go with the check's first purge of either kind (its reports embed their own
copies; the rows stay, naming the peer, key, hash and release seq).

Each check purged is one ``purged`` audit entry, written in the same transaction as the
purge, naming the kind and the counts, never personal data. The report's summary goes
with its envelope (statuses and totals are personal data); its hash and ``released``
entry remain, so receipts and the audit log still verify and an old printout can still
be checked. Running again finds nothing: a purge is idempotent.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from audit.entry import Actor, EntryDraft
from verifier.domain.ports import Store, UnitOfWork
from verifier.domain.ports.retention import DoneCheck, PurgeKind
from verifier.domain.roster import china_date
from verifier.domain.vocabulary import AuditAction
from verifier.policy.retention import (
    DataKind,
    cache_expiry_days,
    expires_on,
    months_before,
    shortest_ever,
    shortest_in_force,
)
from verifier.service.background import pause, run_rounds

__all__ = ["DueCount", "PurgeResult", "RetentionService"]

log = structlog.get_logger("hedui.retention")

LEASE_JOB = "retention"
RETENTION_USER = "hedui-retention"
FIRST_RUN_DELAY_SECONDS = 60.0
# A month is at least 28 days: a check done less than 28 × the shortest period stated
# anywhere ago cannot be due, and is never looked at.
_SHORTEST_MONTH = timedelta(days=28)
_KINDS: dict[PurgeKind, DataKind] = {
    PurgeKind.REPORTS: DataKind.REPORTS,
    PurgeKind.SOURCE_RECORDS: DataKind.SOURCE_RECORDS,
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DueCount:
    """How many checks (or, for ``cache``, cached answers) of a region are due a purge."""

    kind: str
    region: str
    due: int


@dataclass(slots=True)
class PurgeResult:
    """What one run removed; ``leased`` is False when another process holds the job."""

    leased: bool = True
    checks: dict[str, int] = field(default_factory=dict)
    """Checks purged, per kind."""
    report_versions: int = 0
    outcomes: int = 0
    cache_rows: int = 0
    webhook_events: int = 0
    fragments: int = 0
    """Peers' fragments whose envelope went with their check's purge."""
    federation_answers: int = 0

    @property
    def total(self) -> int:
        return (
            sum(self.checks.values())
            + self.cache_rows
            + self.webhook_events
            + self.federation_answers
        )


class RetentionService:
    def __init__(
        self,
        store: Store,
        *,
        batch: int = 100,
        lease_seconds: float = 600.0,
        clock: Callable[[], datetime] = _utcnow,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._batch = batch
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        # Unique per start, so a restarted process does not take its predecessor's lease
        # for its own.
        self.owner = owner or f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # ------------------------------------------------------------------ what is due
    async def _due(self, kind: PurgeKind, now: datetime) -> list[DoneCheck]:
        """Every done check whose ``kind`` period ran out by ``now``, oldest first."""
        today = china_date(now)
        months = shortest_ever(_KINDS[kind])
        if months is None:
            return []
        due: list[DoneCheck] = []
        after: tuple[datetime, str] | None = None
        while True:
            async with self._store.unit_of_work(write=False) as uow:
                page = await uow.retention.held(
                    kind, now - months * _SHORTEST_MONTH, after, self._batch
                )
            for check in page:
                until = expires_on(check.region, _KINDS[kind], china_date(check.done_at), today)
                if until is not None and until <= today:
                    due.append(check)
            if len(page) < self._batch:
                return due
            after = (page[-1].done_at, page[-1].verification_id)

    def _cache_cutoff(self, now: datetime) -> datetime | None:
        days = cache_expiry_days(china_date(now))
        return None if days is None else now - timedelta(days=days)

    def _webhook_cutoff(self, now: datetime) -> datetime | None:
        return _months_cutoff(DataKind.WEBHOOKS, now)

    def _answers_cutoff(self, now: datetime) -> datetime | None:
        return _months_cutoff(DataKind.FEDERATION_ANSWERS, now)

    async def status(self) -> list[DueCount]:
        """What a run now would purge: checks per kind and region, cached answers."""
        now = self._clock()
        counts: list[DueCount] = []
        for kind in PurgeKind:
            per_region: dict[str, int] = {}
            for check in await self._due(kind, now):
                per_region[check.region] = per_region.get(check.region, 0) + 1
            counts.extend(DueCount(kind.value, r, n) for r, n in sorted(per_region.items()))
        cutoff = self._cache_cutoff(now)
        if cutoff is not None:
            async with self._store.unit_of_work(write=False) as uow:
                cached = await uow.retention.cache_held(cutoff)
            counts.append(DueCount(DataKind.CACHE.value, "", cached))
        hooks = self._webhook_cutoff(now)
        if hooks is not None:
            async with self._store.unit_of_work(write=False) as uow:
                events = await uow.retention.webhooks_held(hooks)
            counts.append(DueCount(DataKind.WEBHOOKS.value, "", events))
        answers = self._answers_cutoff(now)
        if answers is not None:
            async with self._store.unit_of_work(write=False) as uow:
                given = await uow.retention.answers_held(answers)
            counts.append(DueCount(DataKind.FEDERATION_ANSWERS.value, "", given))
        return counts

    # ------------------------------------------------------------------ the purge
    async def run(self) -> PurgeResult:
        """Purge everything due now, under the job's lease."""
        now = self._clock()
        leased = await self._store.write(
            lambda uow: uow.retention.lease(LEASE_JOB, self.owner, now, now + self._lease)
        )
        if not leased:
            return PurgeResult(leased=False)
        result = PurgeResult()
        for kind in PurgeKind:
            due = await self._due(kind, now)
            for start in range(0, len(due), self._batch):
                chunk = due[start : start + self._batch]
                n, fragments = await self._store.write(
                    lambda uow, c=chunk, k=kind: self._purge(uow, k, c, now)  # type: ignore[misc]
                )
                result.fragments += fragments
                if kind is PurgeKind.REPORTS:
                    result.report_versions += n
                else:
                    result.outcomes += n
                result.checks[kind.value] = result.checks.get(kind.value, 0) + len(chunk)
        cutoff = self._cache_cutoff(now)
        if cutoff is not None:
            while removed := await self._store.write(lambda uow: self._purge_cache(uow, cutoff)):
                result.cache_rows += removed
        hooks = self._webhook_cutoff(now)
        if hooks is not None:
            while removed := await self._store.write(lambda uow: self._purge_webhooks(uow, hooks)):
                result.webhook_events += removed
        answers = self._answers_cutoff(now)
        if answers is not None:
            while removed := await self._store.write(lambda uow: self._purge_answers(uow, answers)):
                result.federation_answers += removed
        if result.total:
            log.info(
                "retention_purged",
                checks=dict(result.checks),
                report_versions=result.report_versions,
                outcomes=result.outcomes,
                cache_rows=result.cache_rows,
                webhook_events=result.webhook_events,
                fragments=result.fragments,
                federation_answers=result.federation_answers,
            )
        return result

    async def _purge(
        self,
        uow: UnitOfWork,
        kind: PurgeKind,
        checks: list[DoneCheck],
        now: datetime,
    ) -> tuple[int, int]:
        """Purge ``checks`` of ``kind``; the report versions or outcomes that held data,
        and the peers' fragments whose envelope went with them."""
        entries = []
        total = fragments = 0
        for check in checks:
            if kind is PurgeKind.REPORTS:
                n = await uow.retention.purge_reports(check.verification_id, now)
                counts = {"report_versions": n}
            else:
                n = await uow.retention.purge_records(check.verification_id, now)
                counts = {"outcomes": n}
            # Whichever period runs out first takes them (idempotent: the later finds none).
            if f := await uow.retention.purge_fragments(check.verification_id):
                counts["fragments"] = f
                fragments += f
            total += n
            entries.append(
                EntryDraft(
                    actor=_actor(check.region),
                    action=AuditAction.PURGED.value,
                    outcome="recorded",
                    case_id=check.case_id,
                    verification_id=check.verification_id,
                    details={
                        "kind": kind.value,
                        "region": check.region,
                        "done_on": china_date(check.done_at).isoformat(),
                        **counts,
                    },
                )
            )
        await uow.audit.append(entries)
        return total, fragments

    async def _purge_cache(self, uow: UnitOfWork, cutoff: datetime) -> int:
        removed = await uow.retention.purge_cache(cutoff, self._batch)
        await _record_rows_purged(uow, DataKind.CACHE, "cache_rows", removed,
                                  "fetched_before", cutoff)  # fmt: skip
        return removed

    async def _purge_webhooks(self, uow: UnitOfWork, cutoff: datetime) -> int:
        removed = await uow.retention.purge_webhooks(cutoff, self._batch)
        await _record_rows_purged(uow, DataKind.WEBHOOKS, "webhook_events", removed,
                                  "created_before", cutoff)  # fmt: skip
        return removed

    async def _purge_answers(self, uow: UnitOfWork, cutoff: datetime) -> int:
        removed = await uow.retention.purge_answers(cutoff, self._batch)
        await _record_rows_purged(uow, DataKind.FEDERATION_ANSWERS, "federation_answers",
                                  removed, "created_before", cutoff)  # fmt: skip
        return removed

    # ------------------------------------------------------------------ in the server
    async def tick(self) -> int:
        """One round of the server's loop: a run; the number of things purged."""
        return (await self.run()).total

    async def run_forever(self, stop: asyncio.Event, interval: float = 3600.0) -> None:
        """Run every ``interval`` seconds until ``stop`` is set. A failed run (a database
        outage) is logged and taken again next round: nothing is half purged. The first
        run waits a minute, so a server's start is not slowed by a purge."""
        await pause(stop, min(interval, FIRST_RUN_DELAY_SECONDS))
        await run_rounds(
            self.tick, stop, interval, log=log, failed="retention_round_failed", again=_never
        )


def _months_cutoff(kind: DataKind, now: datetime) -> datetime | None:
    """``now`` less the shortest period of ``kind`` (in months) in force today, for data
    that names no region; None when no region states one."""
    today = china_date(now)
    months = shortest_in_force(kind, today)
    return None if months is None else now - (today - months_before(today, months))


def _actor(region: str) -> Actor:
    return Actor(system="hedui", user=RETENTION_USER, role="system", region=region)


def _never(done: int) -> bool:
    # A run purges everything due; the next one waits for the interval.
    return False


async def _record_rows_purged(
    uow: UnitOfWork, kind: DataKind, counted: str, removed: int, bound: str, cutoff: datetime
) -> None:
    """One ``purged`` entry for a batch of rows that name no check (cached answers, webhook
    events): the kind, how many, and the cutoff — nothing of what they held."""
    if not removed:
        return
    details = {"kind": kind.value, counted: removed, bound: cutoff.isoformat()}
    draft = EntryDraft(
        actor=_actor(""), action=AuditAction.PURGED.value, outcome="recorded", details=details
    )
    await uow.audit.append([draft])
