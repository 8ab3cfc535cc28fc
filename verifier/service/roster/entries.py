"""The roster use cases: import (an idempotent upsert), list, show, remove, re-check now.

Every import, removal and read is an audit entry; every refusal of a role or a region
is one too (outcome ``deny``). A request with a bad entry writes nothing (unless the
caller asked for a partial import); the household's personal data is sealed at rest and
masked on the way out (by the API). Each use case lives in its own module; this one
puts them together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from verifier.domain.caller import Caller
from verifier.domain.errors import Unavailable
from verifier.domain.ports import Store
from verifier.service.roster.access import utcnow
from verifier.service.roster.importing import RosterImport
from verifier.service.roster.reading import RosterReads
from verifier.service.roster.recheck_now import RecheckNow, RecheckStarted
from verifier.service.roster.removal import RosterRemoval
from verifier.service.roster.scheduler import RecheckScheduler
from verifier.service.roster.views import (
    IMPORT_MAX,
    IMPORT_ROLES,
    READ_ROLES,
    REMOVE_REASON_MAX,
    ImportResult,
    RosterFilter,
    RosterPage,
    RosterView,
)

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


class RosterService(RosterImport, RosterReads, RosterRemoval):
    def __init__(
        self,
        store: Store,
        pseudonym_key: bytes,
        clock: Callable[[], datetime] = utcnow,
        *,
        scheduler: RecheckScheduler | None = None,
    ) -> None:
        super().__init__(store, pseudonym_key, clock)
        self._now = (
            RecheckNow(self, scheduler, lease_seconds=scheduler.lease_seconds, clock=clock)
            if scheduler is not None
            else None
        )

    async def recheck(
        self, caller: Caller, household_ref: str, region: str, request_id: str, *, urgent: bool
    ) -> RecheckStarted:
        """Re-check an entry now, out of its cycle (see :mod:`.recheck_now`)."""
        if self._now is None:
            raise Unavailable("this server runs no re-check scheduler")
        return await self._now.recheck(caller, household_ref, region, request_id, urgent=urgent)
