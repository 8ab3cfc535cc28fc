"""Reading a policy on one date, remembering which entries an assessment used.

Which date: every parameter is read at the **request date**. The assessment decides on
assistance paid from the request on, and the family is owed today's standard: comparing
last year's income with an average of last year's (lower) standards would refuse families
the standard now in force. Income is still measured over the whole window; only the
yardsticks are today's. The entries used (with their ``from`` dates and structured
references) go into the report, so a reader sees exactly which values were applied and
which of them are examples no document states.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from verifier.policy.policies import Entry, ParamValue, Policy
from verifier.policy.specs import Parameters
from verifier.policy.typed import as_int


class Snapshot(Parameters):
    """The policy as in force on ``day``, typed (``snap.dibao_standard_urban`` is an int);
    records each entry it hands out, so a report cites every value a conclusion used."""

    def __init__(self, policy: Policy, day: date) -> None:
        self.policy = policy
        self.day = day
        self._used: dict[str, Entry] = {}

    def entry(self, name: str) -> Entry:
        e = self.policy.entry(name, self.day)
        self._used[name] = e
        return e

    def has(self, name: str) -> bool:
        return self.policy.has(name, self.day)

    def ref(self, *names: str) -> str:
        """The citations of ``names`` (deduplicated, in order); examples say they are."""
        cites = [self.entry(n).reference.cite() for n in names]
        return "；".join(dict.fromkeys(cites))

    def examples(self, *names: str) -> list[str]:
        """Those of ``names`` whose value in force is an example (no document states it)."""
        return [n for n in dict.fromkeys(names) if self.entry(n).reference.is_example]

    def fen(self, name: str) -> int:
        """An amount or count read by name, for a caller that holds only the name."""
        return as_int(self.entry(name).value)

    integer = fen

    def used(self) -> dict[str, dict[str, object]]:
        """JSON for the entries used, by parameter name."""
        out: dict[str, dict[str, object]] = {}
        for name in sorted(self._used):
            e = self._used[name]
            out[name] = {
                "from": e.start.isoformat(),
                "until": e.until.isoformat() if e.until else None,
                "value": _json_value(e.value),
                "reference": e.reference.to_json(),
            }
        return out

    def examples_used(self) -> list[str]:
        """Every parameter used whose value is an example, by name."""
        return sorted(n for n, e in self._used.items() if e.reference.is_example)


def _json_value(v: ParamValue) -> object:
    if isinstance(v, bool | int | str):
        return v
    if isinstance(v, Decimal):
        return str(v)
    return list(v)
