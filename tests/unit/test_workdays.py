from __future__ import annotations

from datetime import date

from verifier.domain.workdays import add_working_days, is_workday


def test_weekends_are_skipped() -> None:
    # Friday 2026-11-20 + 1 working day = Monday 2026-11-23
    assert add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)
    assert add_working_days(date(2026, 11, 20), 0) == date(2026, 11, 20)


def test_national_day_golden_week_is_not_working_time() -> None:
    assert not is_workday(date(2026, 10, 1))
    # 30 September 2026 + 1 working day lands after the holiday week.
    assert add_working_days(date(2026, 9, 30), 1) >= date(2026, 10, 8)


def test_years_beyond_the_calendar_fall_back_to_weekdays() -> None:
    assert is_workday(date(2099, 6, 1))  # a Monday
    assert not is_workday(date(2099, 6, 6))  # a Saturday
