"""Working days (工作日) for source due dates, with China's official holidays and
make-up working days (调休) where the calendar package knows the year."""

from __future__ import annotations

import functools
from datetime import date, timedelta

import chinese_calendar


def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # Years the package does not cover yet: plain Monday to Friday.
        return day.weekday() < 5


# Every check computes its due date from today's date on its request path (and a
# release each PENDING source's): the same few answers all day, each a walk of up to a
# month of calendar look-ups (~0.4 ms). The calendar is fixed data, so they are kept.
@functools.lru_cache(maxsize=1024)
def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
    current = start
    left = days
    while left > 0:
        current += timedelta(days=1)
        if is_workday(current):
            left -= 1
    return current
