"""In-memory roster and re-check jobs: the ports' contract without a database.

Entries and jobs are frozen rows in :class:`RosterTables`, copied with the rest of the
store's tables by each unit of work. Leases behave as ``FOR UPDATE SKIP LOCKED`` would
for one process (write units run one at a time).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from verifier.domain.errors import Conflict
from verifier.domain.household import Declaration, Member
from verifier.domain.ports import (
    NewContent,
    RecheckRepository,
    ReleasedCheck,
    RosterQuery,
    RosterRecord,
    RosterRepository,
    Schedule,
)
from verifier.domain.roster import JobState, LastCheck, RecheckJob, RosterEntry, recheck_request_id

if TYPE_CHECKING:
    from tests.fakes.tables import Tables


@dataclass(frozen=True, slots=True)
class EntryRow:
    record: RosterRecord
    entry: RosterEntry


@dataclass(frozen=True, slots=True)
class JobRow:
    job: RecheckJob
    lease_owner: str | None = None
    lease_until: datetime | None = None
    not_before: datetime | None = None


@dataclass(slots=True)
class RosterTables:
    entries: dict[str, EntryRow] = field(default_factory=dict)
    jobs: dict[str, JobRow] = field(default_factory=dict)

    def copy(self) -> RosterTables:
        return RosterTables(dict(self.entries), dict(self.jobs))


def _job_of(t: RosterTables, entry_id: str, cycle: date | None) -> JobRow | None:
    return next(
        (
            j
            for j in t.jobs.values()
            if j.job.entry_id == entry_id and j.job.cycle_due == cycle and not j.job.on_demand
        ),
        None,
    )


class InMemoryRoster(RosterRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables.roster

    def _view(self, row: EntryRow) -> RosterRecord:
        r = row.record
        job = _job_of(self._t, r.id, r.schedule.next_due)
        return replace(
            r,
            job_state=job.job.state if job else None,
            job_reason=job.job.reason if job else "",
        )

    async def get(self, region: str, household_ref: str) -> RosterRecord | None:
        for row in self._t.entries.values():
            if row.record.region == region and row.record.household_ref == household_ref:
                return self._view(row)
        return None

    async def get_by_id(self, entry_id: str) -> RosterRecord | None:
        row = self._t.entries.get(entry_id)
        return None if row is None else self._view(row)

    async def lock(self, region: str, household_ref: str) -> RosterRecord | None:
        return await self.get(region, household_ref)

    async def find_ref(self, household_ref: str, regions: Sequence[str]) -> list[RosterRecord]:
        return sorted(
            (
                self._view(row)
                for row in self._t.entries.values()
                if row.record.household_ref == household_ref
                and any(row.record.region.startswith(p) for p in regions)
            ),
            key=lambda r: r.region,
        )

    async def household(self, entry_id: str) -> tuple[tuple[Member, ...], Declaration | None]:
        row = self._t.entries[entry_id]
        return row.entry.members, row.entry.declaration

    def _record(
        self, entry_id: str, content: NewContent, owner: str, created: datetime, now: datetime
    ) -> RosterRecord:
        e = content.entry
        return RosterRecord(
            id=entry_id,
            household_ref=e.household_ref,
            region=e.region,
            programs=e.programs,
            roster_class=e.roster_class,
            authorization_number=e.authorization_number,
            case_ref=e.case_ref,
            hukou=e.hukou,
            member_count=len(e.members),
            subject_refs=tuple(sorted(set(content.subject_refs))),
            content_digest=content.content_digest,
            imported_check=e.last_check_date,
            hedui_check=None,
            schedule=content.schedule,
            owner_system=owner,
            created_at=created,
            updated_at=now,
        )

    async def add(
        self, entry_id: str, content: NewContent, *, owner_system: str, now: datetime
    ) -> None:
        if await self.get(content.entry.region, content.entry.household_ref) is not None:
            raise Conflict("a concurrent request changed the same record")
        self._t.entries[entry_id] = EntryRow(
            self._record(entry_id, content, owner_system, now, now), content.entry
        )

    async def replace(self, entry_id: str, content: NewContent, *, now: datetime) -> None:
        old = self._t.entries[entry_id].record
        record = self._record(entry_id, content, old.owner_system, old.created_at, now)
        self._t.entries[entry_id] = EntryRow(
            replace(record, hedui_check=old.hedui_check), content.entry
        )

    async def record_check(self, entry_id: str, check: LastCheck, schedule: Schedule) -> None:
        row = self._t.entries[entry_id]
        self._t.entries[entry_id] = replace(
            row, record=replace(row.record, hedui_check=check, schedule=schedule)
        )

    async def remove(self, entry_id: str) -> None:
        self._t.entries.pop(entry_id, None)

    async def page(self, query: RosterQuery) -> list[RosterRecord]:
        rows = [
            r.record
            for r in self._t.entries.values()
            if any(r.record.region.startswith(p) for p in query.regions)
        ]
        if query.program is not None:
            rows = [r for r in rows if query.program in r.programs]
        if query.roster_class is not None:
            rows = [r for r in rows if r.roster_class is query.roster_class]
        due_by, overdue_on = query.due_by, query.overdue_on
        if due_by is not None:
            rows = [r for r in rows if r.schedule.next_due and r.schedule.next_due <= due_by]
        if overdue_on is not None:
            rows = [r for r in rows if r.schedule.next_due and r.schedule.next_due < overdue_on]
        keyed: list[tuple[tuple[str, ...], RosterRecord]]
        if query.by_due:
            keyed = [
                ((r.schedule.next_due.isoformat(), r.region, r.household_ref), r)
                for r in rows
                if r.schedule.next_due is not None
            ]
        else:
            keyed = [((r.region, r.household_ref), r) for r in rows]
        keyed.sort(key=lambda kr: kr[0])
        if query.after is not None:
            after = query.after
            keyed = [kr for kr in keyed if kr[0] > after]
        return [self._view(self._t.entries[r.id]) for _, r in keyed[: query.limit]]


class InMemoryRechecks(RecheckRepository):
    def __init__(self, tables: Tables) -> None:
        self._all = tables
        self._t = tables.roster

    def _unscheduled(self, today: date) -> list[RosterRecord]:
        return sorted(
            (
                row.record
                for row in self._t.entries.values()
                if row.record.schedule.next_due is not None
                and row.record.schedule.next_due <= today
                and _job_of(self._t, row.record.id, row.record.schedule.next_due) is None
            ),
            key=lambda r: (r.schedule.next_due, r.id),
        )

    @staticmethod
    def _leasable(j: JobRow, now: datetime) -> bool:
        return (
            j.job.state is JobState.PENDING
            and (j.lease_until is None or j.lease_until < now)
            and (j.not_before is None or j.not_before <= now)
        )

    def _released(self) -> list[ReleasedCheck]:
        out = []
        for j in self._t.jobs.values():
            if j.job.state is not JobState.STARTED:
                continue
            report = self._all.reports.get((j.job.verification_id, 1))
            if report is not None:
                out.append(
                    ReleasedCheck(
                        j.job, j.job.verification_id, report.created_at, report.completeness
                    )
                )
        return sorted(out, key=lambda r: (r.job.cycle_due, r.job.id))

    async def has_work(self, today: date, now: datetime) -> bool:
        return bool(
            self._unscheduled(today)
            or any(self._leasable(j, now) for j in self._t.jobs.values())
            or self._released()
        )

    async def enqueue_due(self, today: date, now: datetime, limit: int) -> list[RecheckJob]:
        created = []
        for r in self._unscheduled(today)[:limit]:
            assert r.schedule.next_due is not None
            job = RecheckJob(
                id=str(uuid.uuid4()),
                entry_id=r.id,
                region=r.region,
                household_ref=r.household_ref,
                cycle_due=r.schedule.next_due,
                state=JobState.PENDING,
                request_id=recheck_request_id(r.id, r.schedule.next_due),
                attempts=0,
            )
            self._t.jobs[job.id] = JobRow(job)
            created.append(job)
        return created

    async def lease(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[RecheckJob]:
        rows = sorted(
            (j for j in self._t.jobs.values() if self._leasable(j, now)),
            key=lambda j: (j.job.cycle_due, j.job.id),
        )[:limit]
        out = []
        for j in rows:
            job = replace(j.job, attempts=j.job.attempts + 1)
            self._t.jobs[job.id] = replace(j, job=job, lease_owner=owner, lease_until=until)
            out.append(job)
        return out

    async def add_on_demand(
        self, job: RecheckJob, owner: str, now: datetime, until: datetime
    ) -> bool:
        if any(j.job.request_id == job.request_id for j in self._t.jobs.values()):
            return False
        stored = replace(job, state=JobState.PENDING, attempts=1, on_demand=True)
        self._t.jobs[job.id] = JobRow(stored, lease_owner=owner, lease_until=until)
        return True

    async def take(
        self, job_id: str, owner: str, now: datetime, until: datetime
    ) -> RecheckJob | None:
        j = self._t.jobs.get(job_id)
        if j is None or j.job.state is not JobState.PENDING:
            return None
        if not (self._leasable(j, now) or j.lease_owner == owner):
            return None
        job = replace(j.job, attempts=j.job.attempts + 1)
        self._t.jobs[job_id] = replace(j, job=job, lease_owner=owner, lease_until=until)
        return job

    def _held(self, job_id: str, owner: str) -> JobRow | None:
        j = self._t.jobs.get(job_id)
        if j is None or j.job.state is not JobState.PENDING or j.lease_owner != owner:
            return None
        return j

    async def started(self, job_id: str, owner: str, verification_id: str, now: datetime) -> bool:
        j = self._held(job_id, owner)
        if j is None:
            return False
        job = replace(j.job, state=JobState.STARTED, verification_id=verification_id, reason="")
        self._t.jobs[job_id] = JobRow(job, not_before=j.not_before)
        return True

    async def finish(
        self, job_id: str, owner: str, state: JobState, reason: str, now: datetime
    ) -> bool:
        j = self._held(job_id, owner)
        if j is None:
            return False
        self._t.jobs[job_id] = JobRow(replace(j.job, state=state, reason=reason[:256]))
        return True

    async def retry_later(self, job_id: str, owner: str, at: datetime, reason: str) -> bool:
        j = self._held(job_id, owner)
        if j is None:
            return False
        self._t.jobs[job_id] = JobRow(replace(j.job, reason=reason[:256]), not_before=at)
        return True

    async def released(self, limit: int) -> list[ReleasedCheck]:
        return self._released()[:limit]

    async def complete(self, job_id: str, now: datetime) -> None:
        j = self._t.jobs[job_id]
        if j.job.state is JobState.STARTED:
            self._t.jobs[job_id] = replace(j, job=replace(j.job, state=JobState.DONE))

    async def cancel_pending(self, entry_id: str, keep_cycle: date | None, now: datetime) -> int:
        n = 0
        for job_id, j in list(self._t.jobs.items()):
            if (
                j.job.entry_id == entry_id
                and j.job.state is JobState.PENDING
                and j.job.cycle_due != keep_cycle
            ):
                self._t.jobs[job_id] = JobRow(replace(j.job, state=JobState.CANCELLED))
                n += 1
        return n

    async def reopen(self, entry_id: str, cycle_due: date, now: datetime) -> bool:
        j = _job_of(self._t, entry_id, cycle_due)
        if j is None or j.job.state not in (JobState.REAUTHORIZATION_NEEDED, JobState.FAILED):
            return False
        self._t.jobs[j.job.id] = JobRow(replace(j.job, state=JobState.PENDING, reason=""))
        return True

    async def for_request(self, request_id: str) -> RecheckJob | None:
        return next((j.job for j in self._t.jobs.values() if j.job.request_id == request_id), None)

    async def for_cycle(self, entry_id: str, cycle_due: date) -> RecheckJob | None:
        j = _job_of(self._t, entry_id, cycle_due)
        return None if j is None else j.job
