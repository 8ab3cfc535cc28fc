"""Reading the roster: a filtered listing in pages (without households), and one entry
with its household. Each read is an audit entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from audit.entry import EntryDraft
from verifier.domain import identifiers as ids
from verifier.domain.caller import Caller
from verifier.domain.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from verifier.domain.ports import RosterQuery, RosterRecord, Store, UnitOfWork
from verifier.domain.roster import HOUSEHOLD_REF, china_date
from verifier.domain.vocabulary import AuditAction
from verifier.service.roster.access import RosterAccess, utcnow
from verifier.service.roster.pages import PageTokens
from verifier.service.roster.views import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    READ_ROLES,
    REGION_PREFIX,
    RosterFilter,
    RosterPage,
    RosterView,
)

__all__ = ["RosterReads"]


class RosterReads(RosterAccess):
    """``ListRosterEntries`` and ``GetRosterEntry``."""

    def __init__(
        self, store: Store, pseudonym_key: bytes, clock: Callable[[], datetime] = utcnow
    ) -> None:
        super().__init__(store, pseudonym_key, clock)
        self._pages = PageTokens(pseudonym_key, "roster")

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
            entry_details = {**details, "region": record.region, "entry_id": record.id}
            await uow.audit.append([self._allowed(caller, action, record, entry_details)])
            view = self._view(record, china_date(now))
            return RosterView(view.record, view.state, view.overdue, members, declaration)

        return await self._store.write(read)
