"""The terms a verification runs under — urgent or not, when it is due, the batch that
started it — and the searches over verifications that use them (ListVerifications, the
overdue scan).

Terms are written in the unit of work that records the check's intent, so a
verification has its terms from the moment it exists. A verification from before terms
were kept has none: never urgent, no due date, in no batch.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from verifier.domain.outcomes import VerificationState
from verifier.domain.ports.verifications import VerificationRecord


class CheckOrigin(StrEnum):
    """What started a check, recorded with its intent by hedui itself (never taken from
    a request): the per-user volume limit counts interactive checks only."""

    INTERACTIVE = "interactive"
    """CreateVerification: a person asked."""
    BATCH = "batch"
    """A batch item (bounded by its batch's size)."""
    ROSTER = "roster"
    """A roster re-check, scheduled or asked for now (bounded by the roster)."""


@dataclass(frozen=True, slots=True)
class VerificationTerms:
    verification_id: str
    urgent: bool
    due_date: date | None
    """The due day in China; None when the region's policy sets no time limit."""
    due_at: datetime | None
    """The instant after which the check is overdue (UTC)."""
    batch_id: str | None = None
    overdue_flagged_at: datetime | None = None
    """When the overdue scan first found it overdue (and told subscribers)."""
    origin: CheckOrigin = CheckOrigin.INTERACTIVE


@dataclass(frozen=True, slots=True)
class ListedVerification:
    record: VerificationRecord
    terms: VerificationTerms | None


@dataclass(frozen=True, slots=True)
class VerificationQuery:
    """One page of a search: the caller's own verifications in its regions, newest
    first, matching every given filter (None or empty: not filtered)."""

    caller_system: str
    regions: tuple[str, ...]
    """The caller's region prefixes: a verification's region must start with one."""
    now: datetime
    """What "overdue" is judged against."""
    limit: int
    region_prefix: str = ""
    case_id: str = ""
    state: VerificationState | None = None
    created_from: datetime | None = None
    """Inclusive."""
    created_before: datetime | None = None
    """Exclusive."""
    overdue: bool | None = None
    urgent: bool | None = None
    batch_id: str = ""
    after: tuple[datetime, str] | None = None
    """Keyset: the (created_at, id) of the previous page's last row; rows come after it
    in the order (created_at descending, id descending)."""


class TermsRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, terms: VerificationTerms) -> None:
        """Store a new verification's terms (in the unit that adds the verification)."""

    @abc.abstractmethod
    async def get(self, verification_id: str) -> VerificationTerms | None: ...

    @abc.abstractmethod
    async def search(self, query: VerificationQuery) -> list[ListedVerification]:
        """At most ``query.limit`` verifications, newest first."""

    @abc.abstractmethod
    async def overdue_unflagged(
        self, now: datetime, limit: int
    ) -> list[tuple[VerificationRecord, VerificationTerms]]:
        """Verifications overdue at ``now`` (not DONE, past ``due_at``) not flagged yet,
        the longest overdue first."""

    @abc.abstractmethod
    async def flag_overdue(self, verification_id: str, now: datetime) -> bool:
        """Record that the check was found overdue; False if it already was flagged."""
