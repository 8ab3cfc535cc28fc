"""What every roster use case shares: the store, the keyed digests and refs of an
entry's content, an entry's view, and the refusal of a role or a region (an audit
entry with outcome ``deny``, then PermissionDenied)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from audit.entry import Actor, EntryDraft
from verifier.domain.caller import Caller
from verifier.domain.errors import PermissionDenied
from verifier.domain.household import Member
from verifier.domain.ports import RosterRecord, Store, UnitOfWork
from verifier.domain.pseudonym import subject_ref
from verifier.domain.roster import RosterEntry, entry_content, recheck_state
from verifier.domain.vocabulary import AuditAction
from verifier.service.audit_trail import actor_of, refusal
from verifier.service.authorize import in_regions
from verifier.service.roster.views import RosterView
from verifier.signing.jcs import canonical_bytes

__all__ = ["RosterAccess", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class RosterAccess:
    """The roster's store and keys, and the checks each use case starts with."""

    def __init__(
        self, store: Store, pseudonym_key: bytes, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._store = store
        self._pkey = pseudonym_key
        self._clock = clock

    @property
    def store(self) -> Store:
        return self._store

    @staticmethod
    def _actor(caller: Caller) -> Actor:
        return actor_of(caller)

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

    def _allowed(
        self, caller: Caller, action: AuditAction, record: RosterRecord, details: dict[str, Any]
    ) -> EntryDraft:
        """The ``allow`` entry of an action on one entry, naming its case and subjects."""
        return EntryDraft(
            actor=self._actor(caller),
            action=action.value,
            outcome="allow",
            case_id=record.case_ref,
            subject_refs=record.subject_refs,
            details=details,
        )

    async def _deny(
        self, caller: Caller, action: AuditAction, reason: str, details: dict[str, Any]
    ) -> None:
        entry = refusal(caller, action.value, reason, details)

        # Through the store's batched writes: a burst of refusals shares its commits.
        async def write(uow: UnitOfWork) -> None:
            await uow.audit.append([entry])

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
