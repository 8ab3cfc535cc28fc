"""What each member × source produced, and the verification's lifecycle states."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hedui_sdk import Record, SourceKind


class SourceStatus(StrEnum):
    PENDING = "PENDING"
    FOUND = "FOUND"
    NOT_FOUND = "NOT_FOUND"
    FAILED = "FAILED"
    DENIED = "DENIED"

    @property
    def answered(self) -> bool:
        """True when the source gave a definite answer (records, or a real "no record")."""
        return self in (SourceStatus.FOUND, SourceStatus.NOT_FOUND)


SOURCE_LABELS: Mapping[str, str] = {
    "household_registration": "户籍",
    "tax": "纳税",
    "social_insurance": "社会保险",
    "real_estate": "不动产",
    "business_registration": "市场主体登记",
    "provident_fund": "住房公积金",
    "vehicle": "车船",
    "bank": "银行存款",
    "securities": "证券",
    "commercial_insurance": "商业保险",
    "internet_finance": "互联网金融资产",
    "medical_insurance": "医保",
    "disability": "残联",
    "education": "教育",
    "employment": "人社就业",
    "civil_affairs": "民政婚姻殡葬",
}
"""Each source (a ``SourceKind`` value) as reports and commands name it in Chinese."""

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
    deployment: str = ""
    """The peer deployment that answered (异地协查), or "" when this deployment's own
    source did."""
    fragment_sha256: str = ""
    """The SHA-256 (hex) of the peer's signed fragment envelope holding this answer,
    when ``deployment`` is a peer and its fragment was accepted."""


def completeness_of(outcomes: list[SourceOutcome] | tuple[SourceOutcome, ...]) -> Completeness:
    """COMPLETE only when every member × source has FOUND or NOT_FOUND."""
    ok = all(o.status in (SourceStatus.FOUND, SourceStatus.NOT_FOUND) for o in outcomes)
    return Completeness.COMPLETE if ok else Completeness.PARTIAL


MIN_POLL_INTERVAL = timedelta(seconds=0.2)
MAX_POLL_INTERVAL = timedelta(days=1)
"""However long a source asks hedui to wait, its ticket is asked about at least daily."""


def next_poll_at(
    now: datetime, wait_seconds: float | None, due_at: datetime | None, overdue_flagged: bool
) -> datetime:
    """When to ask about a pending ticket next.

    ``wait_seconds`` is the source's hint (or hedui's backoff), kept within
    [:data:`MIN_POLL_INTERVAL`, :data:`MAX_POLL_INTERVAL`] whatever the source said. A
    source not yet flagged overdue is asked again no later than its due date, so the
    flag is raised when the date passes rather than when the source's hint runs out.
    """
    seconds = 1.0 if wait_seconds is None else wait_seconds
    if math.isnan(seconds):
        seconds = 1.0
    bounded = min(
        MAX_POLL_INTERVAL.total_seconds(), max(MIN_POLL_INTERVAL.total_seconds(), seconds)
    )
    at = now + timedelta(seconds=bounded)
    if due_at is not None and not overdue_flagged:
        at = min(at, max(due_at, now + MIN_POLL_INTERVAL))
    return at
