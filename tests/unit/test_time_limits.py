"""Due dates of whole checks: working days on China's calendar, urgent checks in hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from verifier.domain.outcomes import VerificationState
from verifier.domain.time_limits import CHINA, TimeLimits, due_for, is_overdue

LINZI = TimeLimits(check_working_days=20, urgent_hours=24)


def test_twenty_working_days_skip_the_golden_week_and_count_its_make_up_saturday() -> None:
    started = datetime(2026, 9, 30, 10, 0, tzinfo=CHINA)
    due = due_for(started, LINZI, urgent=False)
    # 8, 9, 10 (a make-up Saturday), 12-16, 19-23, 26-30 October, 2 and 3 November.
    assert due.date == date(2026, 11, 3)
    assert due.at == datetime(2026, 11, 3, 15, 59, 59, 999_999, tzinfo=UTC)


def test_the_day_counted_from_is_the_day_in_china_not_in_utc() -> None:
    # 20:00 UTC on Friday is 04:00 on Saturday in China: one working day is Monday.
    started = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
    due = due_for(started, TimeLimits(1, 24), urgent=False)
    assert due.date == date(2026, 11, 23)
    assert due.at.astimezone(CHINA) == datetime(2026, 11, 23, 23, 59, 59, 999_999, tzinfo=CHINA)


def test_an_urgent_check_is_due_in_hours_holiday_or_not() -> None:
    started = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)  # National Day
    due = due_for(started, LINZI, urgent=True)
    assert due.at == started + timedelta(hours=24)
    assert due.date == date(2026, 10, 2)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        due_for(datetime(2026, 1, 5, 9, 0), LINZI, urgent=False)


@pytest.mark.parametrize(("days", "hours"), [(0, 24), (61, 24), (20, 0), (20, 169)])
def test_limits_outside_their_bounds_are_refused(days: int, hours: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        TimeLimits(days, hours)


def test_overdue_means_not_done_and_past_the_due_instant() -> None:
    due = datetime(2026, 11, 3, 15, 59, 59, tzinfo=UTC)
    after = due + timedelta(seconds=1)
    assert is_overdue(due, VerificationState.AWAITING_SOURCES, after)
    assert is_overdue(due, VerificationState.RUNNING, after)
    assert not is_overdue(due, VerificationState.DONE, after)  # finished late: no longer
    assert not is_overdue(due, VerificationState.RUNNING, due)
    assert not is_overdue(None, VerificationState.RUNNING, after)
