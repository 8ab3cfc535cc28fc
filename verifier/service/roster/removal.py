"""Removing a roster entry: no more re-checks, its sealed household deleted, the reason
recorded in the audit entry."""

from __future__ import annotations

from verifier.domain import identifiers as ids
from verifier.domain.caller import Caller
from verifier.domain.errors import FieldViolation, InvalidArgument, NotFound
from verifier.domain.ports import UnitOfWork
from verifier.domain.roster import HOUSEHOLD_REF, china_date
from verifier.domain.vocabulary import AuditAction
from verifier.service.roster.access import RosterAccess
from verifier.service.roster.views import IMPORT_ROLES, REMOVE_REASON_MAX, RosterView

__all__ = ["RosterRemoval"]


class RosterRemoval(RosterAccess):
    """``RemoveRosterEntry``."""

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
            entry_details = {
                **details,
                "entry_id": record.id,
                "reason": reason.strip(" "),
                "cancelled_jobs": cancelled,
            }
            await uow.audit.append([self._allowed(caller, action, record, entry_details)])
            return self._view(record, china_date(now))

        return await self._store.write(write)
