"""Unique numbers for synthetic data: resident ID numbers, record ids, calendar months."""

from __future__ import annotations

import random
from datetime import date, timedelta

from hedui_sdk import resident_id


class ResidentIdIssuer:
    """Issues valid, unique resident ID numbers for one county.

    The sequence digit's parity carries the sex, as GB 11643 requires (odd: male).
    """

    def __init__(self, region: str, rng: random.Random) -> None:
        self._region = region
        self._rng = rng
        self._issued: set[str] = set()

    def issue(self, born: date, *, male: bool) -> str:
        """A fresh number for a person born on ``born``."""
        for _ in range(2000):
            seq = self._rng.randrange(500) * 2 + (1 if male else 0)
            number = resident_id.make(self._region, born, seq)
            if number not in self._issued:
                self._issued.add(number)
                return number
        raise RuntimeError("resident ID sequence space exhausted for one birth date")


class RecordNumbers:
    """Department record ids such as ``TAX-370322-00000042``: never derived from a person."""

    def __init__(self, region: str) -> None:
        self._region = region
        self._next: dict[str, int] = {}

    def next(self, prefix: str) -> str:
        """The next id in the ``prefix`` series."""
        n = self._next.get(prefix, 0) + 1
        self._next[prefix] = n
        return f"{prefix}-{self._region}-{n:08d}"


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    first_next = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


def recent_months(as_of: date, count: int) -> list[tuple[date, date]]:
    """The ``count`` complete calendar months ending on or before ``as_of``, oldest first."""
    last = as_of if month_end(as_of) == as_of else as_of.replace(day=1) - timedelta(days=1)
    months: list[tuple[date, date]] = []
    for _ in range(count):
        start = last.replace(day=1)
        months.append((start, last))
        last = start - timedelta(days=1)
    months.reverse()
    return months


def birth_date(rng: random.Random, as_of: date, age: int) -> date:
    """A birth date making the person ``age`` (whole years) on ``as_of``."""
    latest = _years_before(as_of, age)
    earliest = _years_before(as_of, age + 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randrange((latest - earliest).days + 1))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year - years, day=28)
