"""In-memory retention, keeping the port's contract as the SQL adapter does
(``verifier/storage/retention.py``): a purge empties the sealed data but keeps the rows
(ids, hashes, release seqs, summaries) and stamps the check, so a second run finds
nothing; cached answers, acknowledged webhook events and answers given to peers are
deleted outright."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tests.fakes.tables import Tables
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports.retention import DoneCheck, PurgeKind, RetentionRepository
from verifier.domain.webhooks import DeliveryState


class InMemoryRetention(RetentionRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def lease(self, job: str, owner: str, now: datetime, until: datetime) -> bool:
        held = self._t.job_leases.get(job)
        if held is None or not (held[1] < now or held[0] == owner):
            return False
        self._t.job_leases[job] = (owner, until)
        return True

    async def held(
        self,
        kind: PurgeKind,
        done_before: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[DoneCheck]:
        found: list[DoneCheck] = []
        for vid, row in self._t.verifications.items():
            stamp = row.purged_at if kind is PurgeKind.REPORTS else row.records_purged_at
            done_at = row.updated_at
            if (
                row.record.state is not VerificationState.DONE
                or stamp is not None
                or done_at is None
                or not done_at < done_before
                or (after is not None and not (done_at, vid) > after)
            ):
                continue
            found.append(DoneCheck(vid, row.record.case_id, row.record.region, done_at))
        found.sort(key=lambda c: (c.done_at, c.verification_id))
        return found[:limit]

    async def purge_reports(self, verification_id: str, now: datetime) -> int:
        purged = 0
        for key, report in list(self._t.reports.items()):
            if report.verification_id == verification_id and not report.purged:
                self._t.reports[key] = replace(report, envelope=b"", summary_json="{}", purged=True)
                purged += 1
        row = self._t.verifications.get(verification_id)
        if row is not None:
            self._t.verifications[verification_id] = replace(row, purged_at=now)
        return purged

    async def purge_records(self, verification_id: str, now: datetime) -> int:
        purged = 0
        for key, row in list(self._t.outcomes.items()):
            if key[0] == verification_id and not row.records_purged:
                outcome = replace(row.outcome, records=(), ticket=None)
                self._t.outcomes[key] = replace(row, outcome=outcome, records_purged=True)
                purged += 1
        check = self._t.verifications.get(verification_id)
        if check is not None:
            self._t.verifications[verification_id] = replace(check, records_purged_at=now)
        return purged

    async def purge_cache(self, fetched_before: datetime, limit: int) -> int:
        old = sorted(
            (c for c in self._t.cache.values() if c.fetched_at < fetched_before),
            key=lambda c: c.fetched_at,
        )[:limit]
        for c in old:
            del self._t.cache[(c.subject_ref, c.source)]
        return len(old)

    async def cache_held(self, fetched_before: datetime) -> int:
        return sum(1 for c in self._t.cache.values() if c.fetched_at < fetched_before)

    def _acknowledged(self, created_before: datetime) -> list[str]:
        """Dispatched events created before ``created_before`` whose every delivery is
        delivered, oldest first."""
        w = self._t.webhooks
        waiting = {
            event_id
            for (event_id, _), d in w.deliveries.items()
            if d.state is not DeliveryState.DELIVERED
        }
        rows = sorted(
            (
                r
                for r in w.outbox.values()
                if r.dispatched_at is not None
                and r.created_at < created_before
                and r.event.id not in waiting
            ),
            key=lambda r: (r.created_at, r.seq),
        )
        return [r.event.id for r in rows]

    async def purge_webhooks(self, created_before: datetime, limit: int) -> int:
        w = self._t.webhooks
        chosen = set(self._acknowledged(created_before)[:limit])
        w.attempts[:] = [a for a in w.attempts if a.event_id not in chosen]
        for key in [k for k in w.deliveries if k[0] in chosen]:
            del w.deliveries[key]
        for event_id in chosen:
            del w.outbox[event_id]
        return len(chosen)

    async def webhooks_held(self, created_before: datetime) -> int:
        return len(self._acknowledged(created_before))

    async def purge_fragments(self, verification_id: str) -> int:
        purged = 0
        for key, row in list(self._t.fragments.items()):
            if key[0] == verification_id and not row.purged:
                self._t.fragments[key] = replace(row, purged=True)
                purged += 1
        return purged

    async def purge_answers(self, created_before: datetime, limit: int) -> int:
        old = sorted(
            (k for k, a in self._t.answers.items() if a.created_at < created_before),
            key=lambda k: self._t.answers[k].created_at,
        )[:limit]
        for key in old:
            del self._t.answers[key]
        return len(old)

    async def answers_held(self, created_before: datetime) -> int:
        return sum(1 for a in self._t.answers.values() if a.created_at < created_before)
