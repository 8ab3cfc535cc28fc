"""The changes repository: which checks each household had, the comparisons still to
make, and the signed change documents made.

A released report version is noted in the transaction that releases it
(:meth:`ChangeRepository.note_release`), so a comparison is never lost to a crash between
the release and the comparison: whichever process next sweeps makes it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class HouseholdCheck:
    """One check of a household: the keys a comparison matches checks and members by.
    Only keyed references (HMACs), never who the people are.

    ``household_ref`` is the applicant's subject_ref (as the 授权书 registry names a
    household). ``roster_ref``, for a check the roster's scheduler started, keys the
    roster entry (region and the case system's household reference): it links a re-check
    to the household's earlier checks even when the applicant changed (a death)."""

    verification_id: str
    region: str
    household_ref: str
    member_refs: tuple[str, ...]
    created_at: datetime
    roster_ref: str = ""


@dataclass(frozen=True, slots=True)
class PendingComparison:
    verification_id: str
    version: int
    attempts: int


@dataclass(frozen=True, slots=True)
class StoredChanges:
    """A signed change document between the previous check's latest report version and
    one report version of the current check. The envelope holds no personal data (masked
    IDs and keyed refs only; see docs/change-document.md), so it is stored as it is."""

    verification_id: str
    version: int
    region: str
    household_ref: str
    previous_verification_id: str
    previous_version: int
    previous_report_id: str
    previous_sha256: str
    current_report_id: str
    current_sha256: str
    envelope: bytes
    envelope_sha256: str
    key_id: str
    codes: tuple[str, ...]
    """The reason codes of the document's entries, each once, in listing order."""
    household_figures_compared: bool
    withheld: int
    created_at: datetime
    record_seq: int
    """The seq of the ``changes_recorded`` audit entry written with it."""


@dataclass(frozen=True, slots=True)
class ChangeQuery:
    """Change documents of the caller's regions (GB/T 2260 prefixes), newest first,
    optionally of one household or one check, starting after ``after``
    ((created_at, verification_id, version) of the last one seen)."""

    regions: tuple[str, ...]
    limit: int
    household_ref: str = ""
    verification_id: str = ""
    after: tuple[datetime, str, int] | None = None


class ChangeRepository(abc.ABC):
    @abc.abstractmethod
    async def note_release(self, check: HouseholdCheck, version: int, now: datetime) -> None:
        """Record the check (once) and the comparison its ``version`` needs. Idempotent."""

    @abc.abstractmethod
    async def has_pending(self, now: datetime) -> bool:
        """Whether a comparison is due (a cheap read, no lock)."""

    @abc.abstractmethod
    async def pending(
        self, now: datetime, limit: int, *, only: tuple[str, int] | None = None
    ) -> list[PendingComparison]:
        """Comparisons not yet made and due, oldest first, locked until this unit ends
        (SKIP LOCKED on PostgreSQL: another process's are skipped, not waited for).
        ``only`` narrows to one (verification_id, version)."""

    @abc.abstractmethod
    async def finish(self, verification_id: str, version: int, outcome: str, now: datetime) -> None:
        """Mark a comparison made (``outcome``: ``recorded``, ``first_check``, ``superseded``)."""

    @abc.abstractmethod
    async def retry_later(
        self, verification_id: str, version: int, at: datetime, reason: str
    ) -> None:
        """A comparison that could not be made now: count the attempt, try again at ``at``."""

    @abc.abstractmethod
    async def check(self, verification_id: str) -> HouseholdCheck | None: ...

    @abc.abstractmethod
    async def set_roster_ref(self, verification_id: str, roster_ref: str) -> None:
        """Link a noted check to its roster entry (set once the comparison learns it)."""

    @abc.abstractmethod
    async def previous_check(self, current: HouseholdCheck) -> HouseholdCheck | None:
        """The latest earlier check (by created_at, then id) of the same household in the
        same region, among checks with a released report: the same ``household_ref``, or
        the same non-empty ``roster_ref``."""

    @abc.abstractmethod
    async def add(self, changes: StoredChanges) -> None:
        """Store a change document; a second one for the same (verification, version)
        raises :class:`~verifier.domain.errors.Conflict`."""

    @abc.abstractmethod
    async def get(self, verification_id: str, version: int) -> StoredChanges | None:
        """``version`` 0 means the latest version's."""

    @abc.abstractmethod
    async def find(self, query: ChangeQuery) -> list[StoredChanges]: ...


__all__ = [
    "ChangeQuery",
    "ChangeRepository",
    "HouseholdCheck",
    "PendingComparison",
    "StoredChanges",
]
