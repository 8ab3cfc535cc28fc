"""Reading signed change documents: one by check and version, or a page of the
caller's regions; every read is an audit entry."""

from __future__ import annotations

import json
from collections.abc import Sequence

from audit.entry import EntryDraft
from verifier.domain import identifiers as ids
from verifier.domain.caller import Caller
from verifier.domain.errors import FieldViolation, InvalidArgument, NotFound
from verifier.domain.ports import ChangeQuery, StoredChanges
from verifier.domain.vocabulary import AuditAction
from verifier.service.audit_trail import actor_of
from verifier.service.authorize import in_regions
from verifier.service.monitoring.alert_base import AlertServiceBase
from verifier.service.monitoring.alert_views import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    WORK_ROLES,
    ChangesPage,
)


class ChangeReads(AlertServiceBase):
    # ------------------------------------------------------------------ change documents
    async def get_changes(
        self, caller: Caller, verification_id: str, version: int
    ) -> StoredChanges:
        """A signed change document (``version`` 0: the latest version's)."""
        out: list[FieldViolation] = []
        ids.VERIFICATION_ID.check(verification_id, "verification_id", out)
        if version < 0:
            out.append(FieldViolation("version", "must be 0 (latest) or a version number"))
        if out:
            raise InvalidArgument(out)
        await self._role(
            caller, WORK_ROLES, AuditAction.CHANGES_READ, verification_id=verification_id
        )
        async with self._store.unit_of_work(write=False) as uow:
            found = await uow.changes.get(verification_id, version)
        if found is None:
            raise NotFound("no change document for that check and version")
        if not in_regions(found.region, caller.regions):
            await self._deny(caller, AuditAction.CHANGES_READ, "OUT_OF_REGION", "")
            raise NotFound("no change document for that check and version")
        await self._record_changes_read(caller, [found], kind="get")
        return found

    async def list_changes(
        self,
        caller: Caller,
        *,
        household_ref: str = "",
        verification_id: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> ChangesPage:
        """Change documents of the caller's regions, newest first, optionally of one
        household or one check."""
        out: list[FieldViolation] = []
        ids.SHA256_HEX.optional(household_ref, "household_ref", out)
        ids.VERIFICATION_ID.optional(verification_id, "verification_id", out)
        if page_size < 0:
            out.append(FieldViolation("page_size", "must not be negative"))
        if out:
            raise InvalidArgument(out)
        scope = json.dumps(
            ["ListChanges", caller.system, caller.user, household_ref, verification_id]
        ).encode()
        after = self._tokens.read(page_token, scope) if page_token else None
        await self._role(caller, WORK_ROLES, AuditAction.CHANGES_READ)
        size = min(page_size or PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX)
        async with self._store.unit_of_work(write=False) as uow:
            rows = await uow.changes.find(
                ChangeQuery(
                    regions=caller.regions,
                    limit=size + 1,
                    household_ref=household_ref,
                    verification_id=verification_id,
                    # A page ends on a whole check: the next starts before it.
                    after=(after[0], after[1], -1) if after else None,
                )
            )
        page = rows[:size]
        await self._record_changes_read(caller, page, kind="list")
        token = ""
        if len(rows) > size and page:
            token = self._tokens.issue(scope, page[-1].created_at, page[-1].verification_id)
        return ChangesPage(tuple(page), token)

    async def _record_changes_read(
        self, caller: Caller, found: Sequence[StoredChanges], *, kind: str
    ) -> None:
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=actor_of(caller),
                        action=AuditAction.CHANGES_READ.value,
                        outcome="allow",
                        verification_id=found[0].verification_id if len(found) == 1 else "",
                        subject_refs=tuple(dict.fromkeys(c.household_ref for c in found)),
                        details={
                            "kind": kind,
                            "documents": [f"{c.verification_id}:{c.version}" for c in found],
                        },
                    )
                ]
            )
            await uow.commit()


__all__ = ["ChangeReads"]
