"""An entry's next due day, from its region's re-check cycle and its last check.

The cycle is the one in force on the day of the last check (the period counts from
it); for a last check before the region's first value, the one in force today. A
household never checked (by hedui, or as the case system records it) is due on the day
it is first imported, and stays due on that day when imported again.
"""

from __future__ import annotations

from datetime import date

from verifier.domain.ports import Cycle, Schedule
from verifier.domain.roster import RosterClass, due_after, first_working_day
from verifier.policy.recheck import recheck_cycle

__all__ = ["schedule_for"]


def schedule_for(
    region: str,
    roster_class: RosterClass,
    last_check: date | None,
    today: date,
    *,
    first_due: date | None = None,
) -> Schedule:
    """``first_due``: the due day an entry never checked was given when first imported."""
    found = recheck_cycle(region, roster_class.value, last_check or today, today)
    if found is None:
        return Schedule(None, None)
    cycle = Cycle(found.months, found.reference, found.example)
    if last_check is None:
        return Schedule(first_due or first_working_day(today), cycle)
    return Schedule(due_after(last_check, found.months), cycle)
