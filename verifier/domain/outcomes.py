"""What each member × source produced, and the verification's lifecycle states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from adapters import Record, SourceKind


class SourceStatus(StrEnum):
    PENDING = "PENDING"
    FOUND = "FOUND"
    NOT_FOUND = "NOT_FOUND"
    FAILED = "FAILED"
    DENIED = "DENIED"


FINAL_STATUSES = frozenset(
    {SourceStatus.FOUND, SourceStatus.NOT_FOUND, SourceStatus.FAILED, SourceStatus.DENIED}
)


class VerificationState(StrEnum):
    RUNNING = "RUNNING"
    AWAITING_SOURCES = "AWAITING_SOURCES"
    DONE = "DONE"


class Completeness(StrEnum):
    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """The result of asking one source about one member.

    ``reason`` explains FAILED/DENIED/PENDING in words free of personal data;
    ``ticket`` is set while an asynchronous source is PENDING.
    """

    member_index: int
    source: SourceKind
    status: SourceStatus
    adapter: str
    adapter_version: str
    as_of: datetime | None = None
    records: tuple[Record, ...] = ()
    reason: str = ""
    attempts: int = 0
    ticket: str | None = None
    retry_after: float | None = None
    due_at: datetime | None = None
    reused: bool = False
    fetched_at: datetime | None = None
    overdue_flagged: bool = False


def completeness_of(outcomes: list[SourceOutcome] | tuple[SourceOutcome, ...]) -> Completeness:
    """COMPLETE only when every member × source has FOUND or NOT_FOUND."""
    ok = all(o.status in (SourceStatus.FOUND, SourceStatus.NOT_FOUND) for o in outcomes)
    return Completeness.COMPLETE if ok else Completeness.PARTIAL
