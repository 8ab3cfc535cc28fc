"""Re-check cycles (动态管理) as dated region parameters.

``recheck_months_<class>`` in a region's policy file is the number of months between
re-checks of a roster household of that class, with the legal reference of each value
(绩溪: 特困 and 低保 A/B once a year, 低保 C every half year — 绩办〔2021〕27号; other
regions' values are marked ``status = "example"``). A class without the parameter, or a
region without a policy file, has no cycle: its households are never scheduled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from verifier.policy.params import policy_or_none
from verifier.policy.specs import P

__all__ = ["RecheckCycle", "recheck_cycle"]


@dataclass(frozen=True, slots=True)
class RecheckCycle:
    months: int
    reference: str
    """The citation: ``绩办〔2021〕27号``, or the example marker."""
    example: bool
    """True when no document states the value."""


def recheck_cycle(region: str, roster_class: str, day: date, today: date) -> RecheckCycle | None:
    """The cycle for ``roster_class`` households of ``region`` that counts from ``day``
    (the last check): the value in force on that day, or, for a day before the policy
    file's first value, the one in force ``today``. ``None`` when there is none."""
    policy = policy_or_none(region)
    if policy is None:
        return None
    if roster_class not in P.recheck_months:
        return None
    param = P.recheck_months[roster_class]
    for when in (day, today):
        if policy.has(param.name, when):
            entry = policy.entry(param.name, when)
            ref = entry.reference
            return RecheckCycle(param.convert(entry.value), ref.cite(), ref.is_example)
    return None
