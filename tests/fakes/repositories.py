"""In-memory repositories: each subclasses its port and works on one :class:`Tables` copy.

They keep the contract the SQL adapters keep (see ``verifier/domain/ports/``): a second
verification of the same request, report version or authorization is a Conflict; records
come back as stored, a PENDING source's ticket with them; leases behave as
``FOR UPDATE SKIP LOCKED`` would for one process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime

from audit.entry import AppendedEntry, EntryDraft, body_of, canonical, leaf_hash, next_chain
from tests.fakes.tables import (
    AuditRow,
    ConsentRow,
    OutcomeKey,
    OutcomeRow,
    Tables,
    VerificationRow,
)
from verifier.domain.consent import (
    ConsentDoc,
    ConsentEvent,
    ConsentRecord,
    ConsentState,
)
from verifier.domain.errors import Conflict, Unavailable
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import (
    Completeness,
    SourceOutcome,
    SourceStatus,
    VerificationState,
    next_poll_at,
)
from verifier.domain.ports import (
    AuditRepository,
    CachedResult,
    CacheRepository,
    ConsentRepository,
    OutcomeRepository,
    OutcomeSummary,
    PollLease,
    PollRepository,
    ReportRepository,
    StoredReport,
    VerificationRecord,
    VerificationRepository,
)
from verifier.domain.ports.terms import CheckOrigin
from verifier.domain.report import progress_of

ZERO = bytes(32)


class InMemoryVerifications(VerificationRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(
        self,
        record: VerificationRecord,
        request: VerificationRequest,
        authorization_id: str,
        *,
        run_lease: tuple[str, datetime],
    ) -> None:
        if record.id in self._t.verifications or await self.find_by_request(
            record.caller_system, record.request_id
        ):
            raise Conflict("a concurrent request changed the same record")
        owner, until = run_lease
        self._t.verifications[record.id] = VerificationRow(
            replace(record, completeness=None, latest_version=0),
            request,
            authorization_id,
            owner,
            until,
            updated_at=record.created_at,
        )

    async def get(self, verification_id: str) -> VerificationRecord | None:
        row = self._t.verifications.get(verification_id)
        return row.record if row else None

    async def lock(self, verification_id: str) -> VerificationRecord | None:
        # Write units of work run one at a time (the store's write lock): already locked.
        return await self.get(verification_id)

    async def find_by_request(
        self, caller_system: str, request_id: str
    ) -> VerificationRecord | None:
        for row in self._t.verifications.values():
            if (row.record.caller_system, row.record.request_id) == (caller_system, request_id):
                return row.record
        return None

    async def count_since(self, caller_system: str, caller_user: str, since: datetime) -> int:
        terms = self._t.batches.terms
        return sum(
            1
            for vid, row in self._t.verifications.items()
            if row.record.caller_system == caller_system
            and row.record.caller_user == caller_user
            and row.record.created_at >= since
            and (vid not in terms or terms[vid].origin is CheckOrigin.INTERACTIVE)
        )

    async def load_request(self, verification_id: str) -> VerificationRequest:
        row = self._t.verifications[verification_id]
        if row.purged_at is not None:
            # A purged request is gone as if it never was.
            raise KeyError(verification_id)
        return row.request

    async def set_state(
        self,
        verification_id: str,
        state: VerificationState,
        completeness: Completeness | None,
        latest_version: int,
        now: datetime,
    ) -> None:
        row = self._t.verifications[verification_id]
        record = replace(
            row.record, state=state, completeness=completeness, latest_version=latest_version
        )
        self._t.verifications[verification_id] = replace(row, record=record, updated_at=now)


def _as_stored(o: SourceOutcome) -> SourceOutcome:
    """What a round trip through storage keeps: no retry hint; a ticket only while PENDING."""
    keep_ticket = o.status is SourceStatus.PENDING and bool(o.ticket)
    return replace(o, retry_after=None, ticket=o.ticket if keep_ticket else None)


class InMemoryOutcomes(OutcomeRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def store(
        self,
        verification_id: str,
        outcomes: Sequence[SourceOutcome],
        now: datetime,
        *,
        stored: Collection[tuple[int, str]] | None = None,
    ) -> None:
        for o in outcomes:
            key = (verification_id, o.member_index, o.source.value)
            poll_at = None
            if o.status is SourceStatus.PENDING and o.ticket:
                poll_at = next_poll_at(now, o.retry_after, o.due_at, o.overdue_flagged)
            before = self._t.outcomes.get(key)
            self._t.outcomes[key] = OutcomeRow(
                _as_stored(o),
                next_poll_at=poll_at,
                poll_attempts=before.poll_attempts if before else 0,
            )

    def _rows(self, verification_id: str) -> list[tuple[OutcomeKey, OutcomeRow]]:
        return sorted(
            ((k, row) for k, row in self._t.outcomes.items() if k[0] == verification_id),
            key=lambda item: item[0],
        )

    async def load(self, verification_id: str) -> list[SourceOutcome]:
        return [row.outcome for _, row in self._rows(verification_id)]

    async def summaries(self, verification_id: str) -> list[OutcomeSummary]:
        out = [
            OutcomeSummary(
                i, source, row.outcome.status.value, row.outcome.reason, row.outcome.deployment
            )
            for (_, i, source), row in self._rows(verification_id)
        ]
        mine = [r for (vid, _), r in self._t.reports.items() if vid == verification_id]
        last = max(mine, key=lambda r: r.version, default=None)
        if out or last is None:
            return out
        return progress_of(json.loads(last.summary_json))

    async def close(self, verification_id: str) -> None:
        for key, _ in self._rows(verification_id):
            del self._t.outcomes[key]


class InMemoryPolls(PollRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    @staticmethod
    def _due(row: OutcomeRow, now: datetime) -> bool:
        return (
            row.outcome.status is SourceStatus.PENDING
            and row.next_poll_at is not None
            and row.next_poll_at <= now
            and (row.lease_until is None or row.lease_until < now)
        )

    def _stale_runs(self, now: datetime) -> list[VerificationRow]:
        return sorted(
            (
                row
                for row in self._t.verifications.values()
                if row.record.state is VerificationState.RUNNING and row.run_lease_until < now
            ),
            key=lambda row: row.run_lease_until,
        )

    async def has_due_work(self, now: datetime) -> bool:
        return any(self._due(r, now) for r in self._t.outcomes.values()) or bool(
            self._stale_runs(now)
        )

    async def lease(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[PollLease]:
        due = sorted(
            ((k, r) for k, r in self._t.outcomes.items() if self._due(r, now)),
            key=lambda item: (item[1].next_poll_at, item[0]),
        )[:limit]
        leases = []
        for key, row in due:
            self._t.outcomes[key] = replace(row, lease_owner=owner, lease_until=until)
            o = row.outcome
            if o.ticket is None:
                continue
            vid, i, source = key
            leases.append(
                PollLease(vid, i, source, o.ticket, row.poll_attempts, o.due_at, o.overdue_flagged)
            )
        return leases

    def _held(self, key: OutcomeKey, owner: str) -> OutcomeRow | None:
        row = self._t.outcomes.get(key)
        if row is None or row.outcome.status is not SourceStatus.PENDING:
            return None
        return row if row.lease_owner == owner else None

    async def reschedule(
        self, lease: PollLease, owner: str, next_poll_at: datetime, reason: str
    ) -> bool:
        key = (lease.verification_id, lease.member_index, lease.source)
        row = self._held(key, owner)
        if row is None:
            return False
        outcome = replace(row.outcome, reason=reason) if reason else row.outcome
        self._t.outcomes[key] = replace(
            row,
            outcome=outcome,
            lease_owner=None,
            lease_until=None,
            next_poll_at=next_poll_at,
            poll_attempts=lease.poll_attempts + 1,
        )
        return True

    async def holds(self, verification_id: str, member_index: int, source: str, owner: str) -> bool:
        return self._held((verification_id, member_index, source), owner) is not None

    async def claim_stale_runs(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[str]:
        claimed = self._stale_runs(now)[:limit]
        for row in claimed:
            self._t.verifications[row.record.id] = replace(
                row, run_owner=owner, run_lease_until=until
            )
        return [row.record.id for row in claimed]

    async def release_runs(self, owner: str, verification_ids: list[str], now: datetime) -> int:
        released = 0
        for vid in verification_ids:
            row = self._t.verifications.get(vid)
            if row is None or row.run_owner != owner:
                continue
            if row.record.state is not VerificationState.RUNNING:
                continue
            self._t.verifications[vid] = replace(row, run_lease_until=now)
            released += 1
        return released


class InMemoryReports(ReportRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, report: StoredReport) -> None:
        key = (report.verification_id, report.version)
        if key in self._t.reports:
            raise Conflict("a concurrent request changed the same record")
        self._t.reports[key] = report

    async def get(self, verification_id: str, version: int) -> StoredReport | None:
        if version:
            return self._t.reports.get((verification_id, version))
        mine = [r for (vid, _), r in self._t.reports.items() if vid == verification_id]
        return max(mine, key=lambda r: r.version, default=None)

    async def announce(self, verification_id: str) -> None:
        self._t.announced.append(verification_id)


class InMemoryConsents(ConsentRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(
        self, doc: ConsentDoc, household_ref: str, subject_refs: Sequence[str], now: datetime
    ) -> None:
        if doc.number in self._t.consents:
            raise Conflict("a concurrent request changed the same record")
        record = ConsentRecord(
            number=doc.number,
            region=doc.region,
            household_ref=household_ref,
            subject_refs=frozenset(subject_refs),
            sources=frozenset(doc.sources),
            purposes=frozenset(doc.purposes),
            valid_from=doc.valid_from,
            valid_until=doc.valid_until,
            state=ConsentState.ACTIVE,
        )
        self._t.consents[doc.number] = ConsentRow(record, doc)

    async def get(self, number: str) -> ConsentRecord | None:
        row = self._t.consents.get(number)
        return row.record if row else None

    async def load_doc(self, number: str) -> ConsentDoc:
        return self._t.consents[number].doc

    async def events(self, number: str) -> list[ConsentEvent]:
        row = self._t.consents.get(number)
        return list(row.events) if row else []

    async def add_event(self, number: str, event: ConsentEvent) -> None:
        row = self._t.consents[number]
        self._t.consents[number] = replace(row, events=(*row.events, event))

    async def set_state(self, number: str, state: ConsentState, superseded_by: str = "") -> None:
        row = self._t.consents.get(number)
        if row is not None:
            record = replace(row.record, state=state, superseded_by=superseded_by)
            self._t.consents[number] = replace(row, record=record)

    async def naming(self, subject_ref: str) -> list[ConsentRecord]:
        return [
            row.record
            for _, row in sorted(self._t.consents.items())
            if subject_ref in row.record.subject_refs
        ]

    async def active(self, region: str, household_ref: str) -> list[str]:
        return [
            n
            for n, row in self._t.consents.items()
            if row.record.region == region
            and row.record.household_ref == household_ref
            and row.record.state is ConsentState.ACTIVE
        ]


class InMemoryAudit(AuditRepository):
    """Appends with real leaf and chain hashes; ``unavailable()`` makes it fail closed."""

    def __init__(
        self, tables: Tables, clock: Callable[[], datetime], unavailable: Callable[[], bool]
    ) -> None:
        self._t = tables
        self._clock = clock
        self._unavailable = unavailable

    async def append(self, drafts: Sequence[EntryDraft]) -> list[AppendedEntry]:
        if self._unavailable():
            raise Unavailable("database unavailable (AuditUnavailable)")
        out = []
        ts = self._clock()
        for draft in drafts:
            last = self._t.audit[-1] if self._t.audit else None
            seq = last.seq + 1 if last else 0
            body = body_of(draft, seq, ts)
            leaf = leaf_hash(canonical(body))
            chain = next_chain(last.chain_hash if last else ZERO, leaf)
            self._t.audit.append(AuditRow(seq, draft, body, leaf, chain))
            out.append(AppendedEntry(seq, leaf, chain))
        return out


class InMemoryCache(CacheRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def get(
        self, keys: Sequence[tuple[str, str]], fetched_after: datetime
    ) -> dict[tuple[str, str], CachedResult]:
        return {
            k: hit
            for k in keys
            if (hit := self._t.cache.get(k)) is not None and hit.fetched_at > fetched_after
        }

    async def put(self, results: Sequence[CachedResult]) -> None:
        for c in results:
            self._t.cache[(c.subject_ref, c.source)] = c
