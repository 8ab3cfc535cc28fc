"""Importing roster entries: an idempotent upsert by (region, household_ref), all or
nothing unless the caller asks for a partial import. Each entry created or changed is
an audit entry, and the import as a whole one more; an unchanged entry writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from audit.entry import EntryDraft
from verifier.domain import identifiers as ids
from verifier.domain.caller import Caller
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.ports import NewContent, RosterRecord, Schedule, UnitOfWork
from verifier.domain.roster import (
    RosterEntry,
    RosterEntryDraft,
    china_date,
    entry_content,
    validate_entry,
)
from verifier.domain.vocabulary import AuditAction
from verifier.service.roster.access import RosterAccess
from verifier.service.roster.schedule import schedule_for
from verifier.service.roster.views import IMPORT_MAX, IMPORT_ROLES, ImportResult

__all__ = ["RosterImport"]


@dataclass
class _Plan:
    """One import's writes, decided before anything is written."""

    result: ImportResult
    entries: list[tuple[int, RosterEntry]] = field(default_factory=list)


class RosterImport(RosterAccess):
    """``ImportRoster``: the upsert, or with ``validate_only`` its preview."""

    async def import_entries(
        self,
        caller: Caller,
        drafts: Sequence[RosterEntryDraft],
        *,
        partial: bool = False,
        validate_only: bool = False,
    ) -> ImportResult:
        """Create or update each entry by (region, household_ref); all or nothing unless
        ``partial``. ``validate_only`` checks everything and writes nothing."""
        action = AuditAction.ROSTER_IMPORT
        await self._role(caller, IMPORT_ROLES, action, {"entries": len(drafts)})
        if not 1 <= len(drafts) <= IMPORT_MAX:
            raise InvalidArgument(
                [FieldViolation("entries", f"must have 1 to {IMPORT_MAX} entries")]
            )
        now = self._clock()
        today = china_date(now)
        good: list[tuple[int, RosterEntry]] = []
        rejected: list[tuple[int, tuple[FieldViolation, ...]]] = []
        seen: dict[tuple[str, str], int] = {}
        for i, draft in enumerate(drafts):
            try:
                entry = validate_entry(draft, today=today)
            except InvalidArgument as exc:
                rejected.append((i, exc.violations))
                continue
            key = (entry.region, entry.household_ref)
            if key in seen:
                rejected.append(
                    (i, (FieldViolation("household_ref", f"repeats entries[{seen[key]}]"),))
                )
                continue
            seen[key] = i
            good.append((i, entry))
        if rejected and not partial:
            raise InvalidArgument(
                [
                    FieldViolation(f"entries[{i}].{v.field}", v.description)
                    for i, violations in rejected
                    for v in violations
                ]
            )
        # Every region named, the rejected entries' too: a caller learns nothing about a
        # region that is not theirs, and writes nothing in one.
        regions = sorted(
            {d.region for d in drafts if ids.REGION_CODE.problem(d.region) is None}
            | {e.region for _, e in good}
        )
        for region in regions:
            await self._region(caller, region, action, {"entries": len(drafts)})
        plan = _Plan(ImportResult(rejected=tuple(rejected)), good)
        if validate_only:
            return await self._preview(plan, today)
        return await self._store.write(lambda uow: self._upsert(uow, caller, plan, now, today))

    async def _preview(self, plan: _Plan, today: date) -> ImportResult:
        created = updated = unchanged = without = 0
        async with self._store.unit_of_work(write=False) as uow:
            for _, entry in plan.entries:
                old = await uow.roster.get(entry.region, entry.household_ref)
                if old is None:
                    created += 1
                elif old.content_digest == self._digest(entry):
                    unchanged += 1
                else:
                    updated += 1
                if schedule_for(entry.region, entry.roster_class, None, today).cycle is None:
                    without += 1
        return ImportResult(created, updated, unchanged, without, plan.result.rejected)

    def _schedule(self, entry: RosterEntry, old: RosterRecord | None, today: date) -> Schedule:
        checks = [d for d in (entry.last_check_date,) if d is not None]
        if old is not None and old.hedui_check is not None:
            checks.append(old.hedui_check.check_date)
        never_checked = old is not None and old.last_check is None and not checks
        return schedule_for(
            entry.region,
            entry.roster_class,
            max(checks) if checks else None,
            today,
            first_due=old.schedule.next_due if never_checked and old is not None else None,
        )

    async def _changed_fields(
        self, uow: UnitOfWork, old: RosterRecord, entry: RosterEntry
    ) -> list[str]:
        members, declaration = await uow.roster.household(old.id)
        before = entry_content(
            RosterEntry(
                household_ref=old.household_ref,
                region=old.region,
                programs=old.programs,
                roster_class=old.roster_class,
                authorization_number=old.authorization_number,
                case_ref=old.case_ref,
                members=members,
                hukou=old.hukou,
                declaration=declaration,
                last_check_date=old.imported_check,
            )
        )
        after = entry_content(entry)
        return sorted(k for k in after if before.get(k) != after[k])

    async def _upsert(
        self, uow: UnitOfWork, caller: Caller, plan: _Plan, now: datetime, today: date
    ) -> ImportResult:
        actor = self._actor(caller)
        created = updated = unchanged = without = 0
        entries: list[EntryDraft] = []
        for _, entry in plan.entries:
            old = await uow.roster.lock(entry.region, entry.household_ref)
            digest = self._digest(entry)
            if old is not None and old.content_digest == digest:
                unchanged += 1
                continue
            schedule = self._schedule(entry, old, today)
            without += schedule.next_due is None
            refs = self._refs(entry.members)
            content = NewContent(entry, refs, digest, schedule)
            details: dict[str, Any] = {
                "household_ref": entry.household_ref,
                "region": entry.region,
                "roster_class": entry.roster_class.value,
                "programs": [p.value for p in entry.programs],
                "authorization_number": entry.authorization_number,
                "next_due": schedule.next_due.isoformat() if schedule.next_due else None,
            }
            if old is None:
                entry_id = str(uuid.uuid4())
                await uow.roster.add(entry_id, content, owner_system=caller.system, now=now)
                created += 1
                outcome = "created"
            else:
                entry_id = old.id
                details["changed"] = await self._changed_fields(uow, old, entry)
                await uow.roster.replace(entry_id, content, now=now)
                # The cycle moved (a later check was recorded, the class changed): the
                # old cycle's waiting job is not run. A job refused for its 授权书 or its
                # content is tried again with the new content.
                await uow.rechecks.cancel_pending(entry_id, schedule.next_due, now)
                if schedule.next_due is not None:
                    await uow.rechecks.reopen(entry_id, schedule.next_due, now)
                updated += 1
                outcome = "updated"
            entries.append(
                EntryDraft(
                    actor=actor,
                    action=AuditAction.ROSTER_IMPORT.value,
                    outcome=outcome,
                    case_id=entry.case_ref,
                    subject_refs=refs,
                    details={**details, "entry_id": entry_id},
                )
            )
        result = ImportResult(created, updated, unchanged, without, plan.result.rejected)
        entries.append(
            EntryDraft(
                actor=actor,
                action=AuditAction.ROSTER_IMPORT.value,
                outcome="allow",
                details={
                    "created": created,
                    "updated": updated,
                    "unchanged": unchanged,
                    "rejected": [i for i, _ in plan.result.rejected],
                },
            )
        )
        await uow.audit.append(entries)
        return result
