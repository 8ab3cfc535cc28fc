"""Finding checks (ListVerifications): the calling system's verifications in the caller's
regions, filtered, newest first, a page at a time.

Every page is an audited read (``verification_list``) committed before the page is
returned: it names which filters were used, never their values (a case id is kept in the
entry's case_id field, as every other entry keeps it). A caller whose role may not read
verifications, or who asks for a region outside its own, is refused with one audited
``deny`` entry and nothing else written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from audit.entry import Actor, EntryDraft
from verifier.domain.caller import Caller
from verifier.domain.errors import PermissionDenied
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports import (
    ListedVerification,
    Store,
    UnitOfWork,
    VerificationQuery,
)
from verifier.domain.time_limits import CHINA, is_overdue
from verifier.domain.vocabulary import AuditAction, Role
from verifier.service.authorize import in_regions
from verifier.service.page_tokens import PageTokens

__all__ = [
    "PAGE_SIZE_DEFAULT",
    "PAGE_SIZE_MAX",
    "ListedPage",
    "VerificationFilter",
    "VerificationListing",
]

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500
ROLES_THAT_LIST = frozenset({Role.CASEWORKER, Role.REVIEWER})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class VerificationFilter:
    """What a caller asks for; every given filter must match (AND). Checked for format
    at the API boundary (:mod:`verifier.api.listing_translate`)."""

    case_id: str = ""
    state: VerificationState | None = None
    region_prefix: str = ""
    created_from: date | None = None
    created_to: date | None = None
    overdue: bool | None = None
    urgent: bool | None = None
    batch_id: str = ""

    def kinds(self) -> list[str]:
        """The filter's shape, for the audit entry: names only, never values."""
        named = {
            "case_id": bool(self.case_id),
            "state": self.state is not None,
            "region_prefix": bool(self.region_prefix),
            "created_from": self.created_from is not None,
            "created_to": self.created_to is not None,
            "overdue": self.overdue is not None,
            "urgent": self.urgent is not None,
            "batch_id": bool(self.batch_id),
        }
        return [k for k, on in named.items() if on]

    def scope(self, caller: Caller) -> bytes:
        """What a page token is bound to: this RPC, this caller, these exact filters."""
        doc = {
            "rpc": "ListVerifications",
            "system": caller.system,
            "user": caller.user,
            "case_id": self.case_id,
            "state": self.state.value if self.state else "",
            "region_prefix": self.region_prefix,
            "created_from": self.created_from.isoformat() if self.created_from else "",
            "created_to": self.created_to.isoformat() if self.created_to else "",
            "overdue": self.overdue,
            "urgent": self.urgent,
            "batch_id": self.batch_id,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class ListedPage:
    items: tuple[ListedVerification, ...]
    next_page_token: str
    now: datetime
    """When the page was read: what each item's ``overdue`` is judged against."""

    def overdue(self, item: ListedVerification) -> bool:
        due_at = item.terms.due_at if item.terms else None
        return is_overdue(due_at, item.record.state, self.now)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CHINA)


class VerificationListing:
    def __init__(
        self, store: Store, tokens: PageTokens, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._clock = clock

    def _entry(
        self, caller: Caller, flt: VerificationFilter, outcome: str, reason: str, **details: object
    ) -> EntryDraft:
        return EntryDraft(
            actor=Actor(caller.system, caller.user, caller.role, caller.region_label()),
            action=AuditAction.VERIFICATION_LIST.value,
            outcome=outcome,
            case_id=flt.case_id,
            reason=reason,
            details={"filters": flt.kinds(), **details},
        )

    async def _deny(
        self, caller: Caller, flt: VerificationFilter, reason: str, message: str
    ) -> PermissionDenied:
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append([self._entry(caller, flt, "deny", reason)])
            await uow.commit()
        return PermissionDenied(reason, message)

    async def list(
        self, caller: Caller, flt: VerificationFilter, *, page_size: int = 0, page_token: str = ""
    ) -> ListedPage:
        """One page, newest first; pass ``next_page_token`` for the next.

        The page token is checked first (INVALID_ARGUMENT, nothing written), then the
        caller's role and regions (PERMISSION_DENIED, audited)."""
        scope = flt.scope(caller)
        after = self._tokens.read(page_token, scope) if page_token else None
        if caller.role not in ROLES_THAT_LIST:
            raise await self._deny(
                caller, flt, "ROLE_NOT_ALLOWED", f"role {caller.role!r} may not list checks"
            )
        if flt.region_prefix and not in_regions(flt.region_prefix, caller.regions):
            raise await self._deny(
                caller,
                flt,
                "OUT_OF_REGION",
                f"region {flt.region_prefix} is outside the caller's regions",
            )
        size = min(page_size or PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX)
        now = self._clock()
        query = VerificationQuery(
            caller_system=caller.system,
            regions=caller.regions,
            now=now,
            limit=size + 1,
            region_prefix=flt.region_prefix,
            case_id=flt.case_id,
            state=flt.state,
            created_from=_start_of(flt.created_from) if flt.created_from else None,
            created_before=_start_of(flt.created_to + timedelta(days=1))
            if flt.created_to
            else None,
            overdue=flt.overdue,
            urgent=flt.urgent,
            batch_id=flt.batch_id,
            after=after,
        )

        async def read(uow: UnitOfWork) -> list[ListedVerification]:
            # The read is recorded in the same transaction, committed before it is told.
            await uow.audit.append(
                [
                    self._entry(
                        caller,
                        flt,
                        "allow",
                        "",
                        page_size=size,
                        continued=after is not None,
                    )
                ]
            )
            return await uow.terms.search(query)

        rows = await self._store.write(read)
        page = tuple(rows[:size])
        token = ""
        if len(rows) > size and page:
            last = page[-1].record
            token = self._tokens.issue(scope, last.created_at, last.id)
        return ListedPage(page, token, now)
