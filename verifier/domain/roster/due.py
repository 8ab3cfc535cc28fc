"""When a household's next re-check is due.

A cycle of ``n`` months runs from the day of the last check. The arithmetic follows the
Civil Code's rules for periods (《中华人民共和国民法典》):

- 第二百零二条: a period in months ends on the corresponding day of the last month; when
  that month has no such day (31 August + 6 months, 29 February + 12 months), on the
  last day of that month;
- 第二百零三条: a period whose last day is a statutory holiday ends on the day after the
  holiday; weekends count as rest days too, and the make-up working days (调休) of
  China's holiday calendar count as working days.

Days are China Standard Time (UTC+8, no daylight saving): a case worker's "today".
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

from verifier.domain.workdays import is_workday

__all__ = [
    "CHINA",
    "add_months",
    "china_date",
    "china_midnight",
    "due_after",
    "first_working_day",
]

CHINA = timezone(timedelta(hours=8), "CST")


def china_date(at: datetime) -> date:
    """The calendar day in China at the instant ``at`` (aware)."""
    if at.tzinfo is None:
        raise ValueError("china_date needs an aware datetime")
    return at.astimezone(CHINA).date()


def china_midnight(day: date) -> datetime:
    """The instant a China calendar day begins, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months; the month's last day when the month has
    no corresponding day (民法典 第二百零二条)."""
    if months < 0:
        raise ValueError("months must not be negative")
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def first_working_day(day: date) -> date:
    """``day`` if it is a working day, else the first working day after it
    (民法典 第二百零三条; holidays and 调休 from China's calendar)."""
    current = day
    while not is_workday(current):
        current += timedelta(days=1)
    return current


def due_after(last_check: date, months: int) -> date:
    """The day a re-check is due, ``months`` after the check of ``last_check``."""
    return first_working_day(add_months(last_check, months))
