"""The roster on SQLAlchemy: entries with their household sealed, members by keyed ref."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Select, and_, delete, false, insert, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.household import Declaration, HukouNature, Member, Purpose
from verifier.domain.ports.roster import (
    Cycle,
    NewContent,
    RosterQuery,
    RosterRecord,
    RosterRepository,
    Schedule,
)
from verifier.domain.roster import (
    CheckOutcome,
    JobState,
    LastCheck,
    RosterClass,
    household_from_json,
    household_to_json,
)
from verifier.storage.guard import guard
from verifier.storage.models_roster import RecheckJobRow, RosterEntryRow, RosterSubjectRow
from verifier.storage.sealing import Sealer


def _programs(programs: Sequence[Purpose]) -> str:
    return "," + ",".join(p.value for p in programs) + ","


def _aad(entry_id: str) -> str:
    return f"roster_entries/{entry_id}"


def _record(
    row: RosterEntryRow, refs: Sequence[str], job_state: str | None, job_reason: str | None
) -> RosterRecord:
    hedui = None
    if row.checked_date is not None:
        hedui = LastCheck(
            row.checked_date,
            CheckOutcome(row.checked_outcome),
            row.checked_verification_id,
            row.checked_at,
        )
    cycle = None
    if row.cycle_months is not None:
        cycle = Cycle(row.cycle_months, row.cycle_reference, row.cycle_example)
    return RosterRecord(
        id=row.id,
        household_ref=row.household_ref,
        region=row.region,
        programs=tuple(Purpose(p) for p in row.programs.split(",") if p),
        roster_class=RosterClass(row.roster_class),
        authorization_number=row.authorization_number,
        case_ref=row.case_ref,
        hukou=HukouNature(row.hukou),
        member_count=row.member_count,
        subject_refs=tuple(refs),
        content_digest=row.content_digest,
        imported_check=row.imported_check_date,
        hedui_check=hedui,
        schedule=Schedule(row.next_due_date, cycle),
        owner_system=row.owner_system,
        created_at=row.created_at,
        updated_at=row.updated_at,
        job_state=JobState(job_state) if job_state else None,
        job_reason=job_reason or "",
    )


class SqlRoster(RosterRepository):
    def __init__(self, session: AsyncSession, sealer: Sealer) -> None:
        self._session = session
        self._sealer = sealer

    def _with_job(self) -> Select[RosterEntryRow, str, str]:
        """Entries with the state of the job of the cycle now due, if there is one."""
        return select(RosterEntryRow, RecheckJobRow.state, RecheckJobRow.reason).outerjoin(
            RecheckJobRow,
            and_(
                RecheckJobRow.entry_id == RosterEntryRow.id,
                RecheckJobRow.cycle_due == RosterEntryRow.next_due_date,
                RecheckJobRow.on_demand.is_(false()),
            ),
        )

    async def _refs(self, ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {i: [] for i in ids}
        if not ids:
            return out
        rows = await self._session.execute(
            select(RosterSubjectRow.entry_id, RosterSubjectRow.subject_ref)
            .where(RosterSubjectRow.entry_id.in_(ids))
            .order_by(RosterSubjectRow.entry_id, RosterSubjectRow.subject_ref)
        )
        for entry_id, ref in rows:
            out[entry_id].append(ref)
        return out

    async def _records(self, query: Select[RosterEntryRow, str, str]) -> list[RosterRecord]:
        rows = (await self._session.execute(query)).all()
        refs = await self._refs([r[0].id for r in rows])
        return [_record(row, refs[row.id], state, reason) for row, state, reason in rows]

    async def get(self, region: str, household_ref: str) -> RosterRecord | None:
        async with guard():
            found = await self._records(
                self._with_job().where(
                    RosterEntryRow.region == region,
                    RosterEntryRow.household_ref == household_ref,
                )
            )
        return found[0] if found else None

    async def get_by_id(self, entry_id: str) -> RosterRecord | None:
        async with guard():
            found = await self._records(self._with_job().where(RosterEntryRow.id == entry_id))
        return found[0] if found else None

    async def lock(self, region: str, household_ref: str) -> RosterRecord | None:
        async with guard():
            row = (
                await self._session.execute(
                    select(RosterEntryRow.id)
                    .where(
                        RosterEntryRow.region == region,
                        RosterEntryRow.household_ref == household_ref,
                    )
                    .with_for_update()
                )
            ).scalar_one_or_none()
        return None if row is None else await self.get_by_id(row)

    async def find_ref(self, household_ref: str, regions: Sequence[str]) -> list[RosterRecord]:
        async with guard():
            return await self._records(
                self._with_job()
                .where(
                    RosterEntryRow.household_ref == household_ref,
                    or_(*(RosterEntryRow.region.startswith(p) for p in regions)),
                )
                .order_by(RosterEntryRow.region)
            )

    async def household(self, entry_id: str) -> tuple[tuple[Member, ...], Declaration | None]:
        async with guard():
            row = await self._session.get(RosterEntryRow, entry_id)
        if row is None:
            raise KeyError(entry_id)
        plain = self._sealer.open(row.sealed, row.key_id, _aad(entry_id))
        return household_from_json(json.loads(plain))

    def _content(self, row: RosterEntryRow, content: NewContent, now: datetime) -> None:
        e = content.entry
        row.programs = _programs(e.programs)
        row.roster_class = e.roster_class.value
        row.authorization_number = e.authorization_number
        row.case_ref = e.case_ref
        row.hukou = e.hukou.value
        row.member_count = len(e.members)
        row.content_digest = content.content_digest
        row.imported_check_date = e.last_check_date
        self._schedule(row, content.schedule)
        row.updated_at = now
        plain = json.dumps(household_to_json(e), ensure_ascii=False).encode()
        row.sealed, row.key_id = self._sealer.seal(plain, _aad(row.id))

    @staticmethod
    def _schedule(row: RosterEntryRow, schedule: Schedule) -> None:
        row.next_due_date = schedule.next_due
        c = schedule.cycle
        row.cycle_months = c.months if c else None
        row.cycle_reference = c.reference[:256] if c else ""
        row.cycle_example = c.example if c else False

    async def _set_refs(self, entry_id: str, refs: Sequence[str]) -> None:
        await self._session.execute(
            delete(RosterSubjectRow).where(RosterSubjectRow.entry_id == entry_id)
        )
        if refs:
            await self._session.execute(
                insert(RosterSubjectRow),
                [{"entry_id": entry_id, "subject_ref": r} for r in sorted(set(refs))],
            )

    async def add(
        self, entry_id: str, content: NewContent, *, owner_system: str, now: datetime
    ) -> None:
        row = RosterEntryRow(
            id=entry_id,
            region=content.entry.region,
            household_ref=content.entry.household_ref,
            checked_verification_id="",
            checked_outcome="",
            owner_system=owner_system,
            created_at=now,
        )
        self._content(row, content, now)
        self._session.add(row)
        async with guard():
            await self._session.flush()
            await self._set_refs(entry_id, content.subject_refs)

    async def replace(self, entry_id: str, content: NewContent, *, now: datetime) -> None:
        async with guard():
            row = await self._session.get(RosterEntryRow, entry_id, with_for_update=True)
            if row is None:
                raise KeyError(entry_id)
            self._content(row, content, now)
            await self._session.flush()
            await self._set_refs(entry_id, content.subject_refs)

    async def record_check(self, entry_id: str, check: LastCheck, schedule: Schedule) -> None:
        async with guard():
            row = await self._session.get(RosterEntryRow, entry_id, with_for_update=True)
            if row is None:
                raise KeyError(entry_id)
            row.checked_verification_id = check.verification_id
            row.checked_date = check.check_date
            row.checked_at = check.check_time
            row.checked_outcome = check.outcome.value
            self._schedule(row, schedule)
            await self._session.flush()

    async def remove(self, entry_id: str) -> None:
        async with guard():
            await self._session.execute(
                delete(RosterSubjectRow).where(RosterSubjectRow.entry_id == entry_id)
            )
            await self._session.execute(delete(RosterEntryRow).where(RosterEntryRow.id == entry_id))

    async def page(self, query: RosterQuery) -> list[RosterRecord]:
        e = RosterEntryRow
        q = self._with_job().where(or_(*(e.region.startswith(p) for p in query.regions)))
        if query.program is not None:
            q = q.where(e.programs.contains(f",{query.program.value},", autoescape=True))
        if query.roster_class is not None:
            q = q.where(e.roster_class == query.roster_class.value)
        if query.due_by is not None:
            q = q.where(e.next_due_date <= query.due_by)
        if query.overdue_on is not None:
            q = q.where(e.next_due_date < query.overdue_on)
        if query.by_due:
            q = q.where(e.next_due_date.is_not(None))
            if query.after is not None:
                due, region, ref = query.after
                q = q.where(
                    tuple_(e.next_due_date, e.region, e.household_ref)
                    > tuple_(date.fromisoformat(due), region, ref)
                )
            q = q.order_by(e.next_due_date, e.region, e.household_ref)
        else:
            if query.after is not None:
                region, ref = query.after
                q = q.where(tuple_(e.region, e.household_ref) > tuple_(region, ref))
            q = q.order_by(e.region, e.household_ref)
        async with guard():
            return await self._records(q.limit(query.limit))
