"""Time limits on a whole check (压缩核对时限): when it is due, and when it is overdue.

A region sets two limits in its policy file (dated parameters with their references):
``check_due_working_days`` — a check is due that many working days (工作日, China's
official calendar with its 调休 make-up days) after the day it was started, at the end
of that day in China; and ``urgent_due_hours`` — an urgent check (急难, 先行救助) is due
that many hours after it was started, whatever the calendar says: a family in crisis
does not wait for Monday.

A check is *overdue* while it is not DONE (a source has still to give its final answer)
and its due instant has passed. A check that finishes late stops being overdue; the
audit log and the ``verification.overdue`` webhook keep that it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from verifier.domain.outcomes import VerificationState
from verifier.domain.workdays import add_working_days

__all__ = ["CHINA", "Due", "TimeLimits", "after_working_days", "due_for", "is_overdue"]

CHINA = timezone(timedelta(hours=8), "CST")
"""China Standard Time: one zone, no daylight saving. Working days are counted in it."""

CHECK_DUE_WORKING_DAYS_MAX = 60
URGENT_DUE_HOURS_MAX = 168


@dataclass(frozen=True, slots=True)
class TimeLimits:
    """A region's limits in force on the day a check starts, with where they come from."""

    check_working_days: int
    urgent_hours: int
    reference: str = ""
    """The citation of the working-day limit (文号, or that it is an example value)."""

    def __post_init__(self) -> None:
        if not 1 <= self.check_working_days <= CHECK_DUE_WORKING_DAYS_MAX:
            raise ValueError(f"check_working_days must be 1-{CHECK_DUE_WORKING_DAYS_MAX}")
        if not 1 <= self.urgent_hours <= URGENT_DUE_HOURS_MAX:
            raise ValueError(f"urgent_hours must be 1-{URGENT_DUE_HOURS_MAX}")


@dataclass(frozen=True, slots=True)
class Due:
    """When a check is due: the calendar day in China, and the instant (UTC) after which
    it is overdue."""

    date: date
    at: datetime


def due_for(started_at: datetime, limits: TimeLimits, *, urgent: bool) -> Due:
    """The due day and instant of a check started at ``started_at`` (an aware datetime)."""
    if started_at.utcoffset() is None:
        raise ValueError("started_at must be an aware datetime")
    if urgent:
        at = (started_at + timedelta(hours=limits.urgent_hours)).astimezone(UTC)
        return Due(at.astimezone(CHINA).date(), at)
    return after_working_days(started_at, limits.check_working_days)


def after_working_days(started_at: datetime, days: int) -> Due:
    """The end, in China, of the ``days``-th working day after the day (in China) of
    ``started_at`` (an aware datetime): a limit in working days, whoever sets it."""
    day = add_working_days(started_at.astimezone(CHINA).date(), days)
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=CHINA)
    return Due(day, (end_of_day - timedelta(microseconds=1)).astimezone(UTC))


def is_overdue(due_at: datetime | None, state: VerificationState, now: datetime) -> bool:
    """Not DONE and past its due instant. A check without a due date is never overdue."""
    return due_at is not None and state is not VerificationState.DONE and now > due_at
