"""The roster use cases: import (an idempotent upsert), list, show, remove.

Every import, removal and read is an audit entry; every refusal of a role or a region
is one too (outcome ``deny``). A request with a bad entry writes nothing (unless the
caller asked for a partial import); the household's personal data is sealed at rest and
masked on the way out (by the API).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from audit.entry import Actor, EntryDraft
from verifier.domain import identifiers as ids
from verifier.domain.caller import Caller
from verifier.domain.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from verifier.domain.household import Declaration, Member, Purpose
from verifier.domain.ports import (
    NewContent,
    RosterQuery,
    RosterRecord,
    Schedule,
    Store,
    UnitOfWork,
)
from verifier.domain.pseudonym import subject_ref
from verifier.domain.roster import (
    HOUSEHOLD_REF,
    RecheckState,
    RosterClass,
    RosterEntry,
    RosterEntryDraft,
    china_date,
    entry_content,
    recheck_state,
    validate_entry,
)
from verifier.domain.vocabulary import AuditAction, Role
from verifier.service.authorize import in_regions
from verifier.service.roster.pages import PageTokens
from verifier.service.roster.recheck_now import RecheckNow, RecheckStarted
from verifier.service.roster.schedule import schedule_for
from verifier.service.roster.scheduler import RecheckScheduler
from verifier.signing.jcs import canonical_bytes

__all__ = [
    "IMPORT_MAX",
    "IMPORT_ROLES",
    "READ_ROLES",
    "REMOVE_REASON_MAX",
    "ImportResult",
    "RosterFilter",
    "RosterPage",
    "RosterService",
    "RosterView",
]

IMPORT_ROLES = frozenset({Role.CASEWORKER.value, Role.ADMIN.value})
READ_ROLES = frozenset({Role.CASEWORKER.value, Role.REVIEWER.value, Role.ADMIN.value})
IMPORT_MAX = 1000
REMOVE_REASON_MAX = 256
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000
REGION_PREFIX = re.compile(r"[1-9][0-9](?:[0-9]{2}){0,2}", re.ASCII)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RosterView:
    """An entry as shown: the record, where its cycle stands, and (``show`` only) its
    household, unsealed for the API to mask."""

    record: RosterRecord
    state: RecheckState
    overdue: bool
    members: tuple[Member, ...] = ()
    declaration: Declaration | None = None


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    without_cycle: int = 0
    rejected: tuple[tuple[int, tuple[FieldViolation, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class RosterFilter:
    """A listing's filters as the caller gave them (unset: not filtered)."""

    region: str = ""
    program: Purpose | None = None
    roster_class: RosterClass | None = None
    due_before: date | None = None
    overdue: bool = False
    page_size: int = 0
    page_token: str = ""
    violations: tuple[FieldViolation, ...] = ()
    """What the translation already found wrong (an unknown enum number, a bad date)."""

    def key(self) -> dict[str, str]:
        return {
            "region": self.region,
            "program": self.program.value if self.program else "",
            "roster_class": self.roster_class.value if self.roster_class else "",
            "due_before": self.due_before.isoformat() if self.due_before else "",
            "overdue": "1" if self.overdue else "",
        }


@dataclass(frozen=True, slots=True)
class RosterPage:
    entries: tuple[RosterView, ...]
    next_page_token: str


@dataclass
class _Plan:
    """One import's writes, decided before anything is written."""

    result: ImportResult
    entries: list[tuple[int, RosterEntry]] = field(default_factory=list)


class RosterService:
    def __init__(
        self,
        store: Store,
        pseudonym_key: bytes,
        clock: Callable[[], datetime] = _utcnow,
        *,
        scheduler: RecheckScheduler | None = None,
    ) -> None:
        self._store = store
        self._pkey = pseudonym_key
        self._clock = clock
        self._pages = PageTokens(pseudonym_key, "roster")
        self._now = (
            RecheckNow(self, scheduler, lease_seconds=scheduler.lease_seconds, clock=clock)
            if scheduler is not None
            else None
        )

    @property
    def store(self) -> Store:
        return self._store

    async def recheck(
        self, caller: Caller, household_ref: str, region: str, request_id: str, *, urgent: bool
    ) -> RecheckStarted:
        """Re-check an entry now, out of its cycle (see :mod:`.recheck_now`)."""
        if self._now is None:
            raise Unavailable("this server runs no re-check scheduler")
        return await self._now.recheck(caller, household_ref, region, request_id, urgent=urgent)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _actor(caller: Caller) -> Actor:
        return Actor(caller.system, caller.user, caller.role, caller.region_label())

    actor = _actor

    def _refs(self, members: Sequence[Member]) -> tuple[str, ...]:
        return tuple(
            subject_ref(self._pkey, m.subject.id_type, m.subject.id_number) for m in members
        )

    def _digest(self, entry: RosterEntry) -> str:
        # Keyed, like subject refs: the content holds ID numbers.
        return hmac.new(
            self._pkey, canonical_bytes(entry_content(entry)), hashlib.sha256
        ).hexdigest()

    def _view(self, record: RosterRecord, today: date) -> RosterView:
        due = record.schedule.next_due
        return RosterView(
            record,
            recheck_state(due, record.job_state, today),
            due is not None and due < today,
        )

    view = _view

    async def _deny(
        self, caller: Caller, action: AuditAction, reason: str, details: dict[str, Any]
    ) -> None:
        async def write(uow: UnitOfWork) -> None:
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._actor(caller),
                        action=action.value,
                        outcome="deny",
                        reason=reason,
                        details=details,
                    )
                ]
            )

        await self._store.write(write)

    async def _role(
        self, caller: Caller, roles: frozenset[str], action: AuditAction, details: dict[str, Any]
    ) -> None:
        if caller.role not in roles:
            await self._deny(caller, action, "ROLE_NOT_ALLOWED", details)
            raise PermissionDenied("ROLE_NOT_ALLOWED", f"role {caller.role!r} may not do this")

    async def _region(
        self, caller: Caller, region: str, action: AuditAction, details: dict[str, Any]
    ) -> None:
        if not in_regions(region, caller.regions):
            await self._deny(caller, action, "OUT_OF_REGION", {**details, "region": region})
            raise PermissionDenied("OUT_OF_REGION", f"region {region} is outside the caller's")

    # The re-check-now use case refuses roles and regions as the others do.
    check_role = _role
    check_region = _region

    # ------------------------------------------------------------------ import
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

    # ------------------------------------------------------------------ reads
    def _scope(self, caller: Caller, region: str) -> tuple[str, ...]:
        """The caller's prefixes narrowed to ``region`` (empty when they do not meet)."""
        if not region:
            return caller.regions
        if any(region.startswith(p) for p in caller.regions):
            return (region,)
        return tuple(p for p in caller.regions if p.startswith(region))

    async def list_entries(self, caller: Caller, flt: RosterFilter) -> RosterPage:
        """A page of entries (without households) matching every filter given."""
        action = AuditAction.ROSTER_READ
        out = list(flt.violations)
        if flt.region and not REGION_PREFIX.fullmatch(flt.region):
            out.append(
                FieldViolation("region_code", "must be a region code or prefix (2, 4 or 6 digits)")
            )
        ids.check_range(flt.page_size, "page_size", 0, PAGE_SIZE_MAX, out)
        by_due = flt.due_before is not None or flt.overdue
        # A token is bound to its filters and to the caller it was issued to.
        scope = {**flt.key(), "caller": f"{caller.system}/{caller.user}"}
        after = None
        if flt.page_token:
            try:
                after = self._pages.read(flt.page_token, scope, 3 if by_due else 2)
            except InvalidArgument as exc:
                out.extend(exc.violations)
        if out:
            raise InvalidArgument(out)
        details: dict[str, Any] = {"filters": sorted(k for k, v in flt.key().items() if v)}
        await self._role(caller, READ_ROLES, action, details)
        regions = self._scope(caller, flt.region)
        if not regions:
            await self._deny(caller, action, "OUT_OF_REGION", {**details, "region": flt.region})
            raise PermissionDenied("OUT_OF_REGION", f"region {flt.region} is outside the caller's")
        now = self._clock()
        today = china_date(now)
        size = flt.page_size or PAGE_SIZE_DEFAULT
        query = RosterQuery(
            regions=regions,
            limit=size + 1,
            program=flt.program,
            roster_class=flt.roster_class,
            due_by=flt.due_before,
            overdue_on=today if flt.overdue else None,
            by_due=by_due,
            after=after,
        )

        async def read(uow: UnitOfWork) -> list[RosterRecord]:
            found = await uow.roster.page(query)
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._actor(caller),
                        action=action.value,
                        outcome="allow",
                        details={**details, "entries": min(len(found), size)},
                    )
                ]
            )
            return found

        found = await self._store.write(read)
        token = ""
        if len(found) > size:
            last = found[size - 1]
            key: tuple[str, ...] = (last.region, last.household_ref)
            if by_due:
                assert last.schedule.next_due is not None
                key = (last.schedule.next_due.isoformat(), *key)
            token = self._pages.issue(scope, key)
        return RosterPage(tuple(self._view(r, today) for r in found[:size]), token)

    async def get(self, caller: Caller, household_ref: str, region: str = "") -> RosterView:
        """One entry with its household (members and declaration), for the API to mask."""
        out: list[FieldViolation] = []
        HOUSEHOLD_REF.check(household_ref, "household_ref", out)
        ids.REGION_CODE.optional(region, "region_code", out)
        if out:
            raise InvalidArgument(out)
        action = AuditAction.ROSTER_READ
        details = {"household_ref": household_ref}
        await self._role(caller, READ_ROLES, action, details)
        if region:
            await self._region(caller, region, action, details)
        now = self._clock()

        async def read(uow: UnitOfWork) -> RosterView:
            if region:
                record = await uow.roster.get(region, household_ref)
                found = [record] if record is not None else []
            else:
                found = await uow.roster.find_ref(household_ref, caller.regions)
            if not found:
                raise NotFound("roster entry not found")
            if len(found) > 1:
                raise InvalidArgument(
                    [
                        FieldViolation(
                            "region_code",
                            f"must be given: the reference is in {len(found)} of your regions",
                        )
                    ]
                )
            record = found[0]
            members, declaration = await uow.roster.household(record.id)
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._actor(caller),
                        action=action.value,
                        outcome="allow",
                        case_id=record.case_ref,
                        subject_refs=record.subject_refs,
                        details={**details, "region": record.region, "entry_id": record.id},
                    )
                ]
            )
            view = self._view(record, china_date(now))
            return RosterView(view.record, view.state, view.overdue, members, declaration)

        return await self._store.write(read)

    # ------------------------------------------------------------------ removal
    async def remove(
        self, caller: Caller, household_ref: str, region: str, reason: str
    ) -> RosterView:
        """Remove an entry: no more re-checks; its sealed household is deleted. The
        reason is recorded in the audit entry."""
        out: list[FieldViolation] = []
        HOUSEHOLD_REF.check(household_ref, "household_ref", out)
        ids.REGION_CODE.check(region, "region_code", out)
        ids.check_free_text(reason, REMOVE_REASON_MAX, "reason", out)
        if out:
            raise InvalidArgument(out)
        action = AuditAction.ROSTER_REMOVE
        details = {"household_ref": household_ref, "region": region}
        await self._role(caller, IMPORT_ROLES, action, details)
        await self._region(caller, region, action, details)
        now = self._clock()

        async def write(uow: UnitOfWork) -> RosterView:
            record = await uow.roster.lock(region, household_ref)
            if record is None:
                raise NotFound("roster entry not found")
            cancelled = await uow.rechecks.cancel_pending(record.id, None, now)
            await uow.roster.remove(record.id)
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._actor(caller),
                        action=action.value,
                        outcome="allow",
                        case_id=record.case_ref,
                        subject_refs=record.subject_refs,
                        details={
                            **details,
                            "entry_id": record.id,
                            "reason": reason.strip(" "),
                            "cancelled_jobs": cancelled,
                        },
                    )
                ]
            )
            return self._view(record, china_date(now))

        return await self._store.write(write)
