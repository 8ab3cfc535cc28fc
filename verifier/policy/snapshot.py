"""Reading a policy on one date, remembering which entries an assessment used.

Which date: every parameter is read at the **request date**. The assessment decides on
assistance paid from the request on, and the family is owed today's standard: comparing
last year's income with an average of last year's (lower) standards would refuse families
the standard now in force. Income is still measured over the whole window; only the
yardsticks are today's. The entries used (with their ``from`` dates and references) go
into the report, so a reader sees exactly which values were applied.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from verifier.policy.params import Entry, ParamValue, Policy


class Snapshot:
    """The policy as in force on ``day``; records each parameter it hands out."""

    def __init__(self, policy: Policy, day: date) -> None:
        self.policy = policy
        self.day = day
        self._used: dict[str, Entry] = {}

    def _get(self, name: str) -> ParamValue:
        e = self.policy.entry(name, self.day)
        self._used[name] = e
        return e.value

    def has(self, name: str) -> bool:
        return self.policy.has(name, self.day)

    def ref(self, *names: str) -> str:
        """The legal references of ``names`` (deduplicated, in order)."""
        refs = [self.policy.entry(n, self.day).reference for n in names]
        for n in names:
            self._used[n] = self.policy.entry(n, self.day)
        return "；".join(dict.fromkeys(refs))

    def fen(self, name: str) -> int:
        v = self._get(name)
        assert isinstance(v, int)
        assert not isinstance(v, bool)
        return v

    def integer(self, name: str) -> int:
        return self.fen(name)

    def decimal(self, name: str) -> Decimal:
        v = self._get(name)
        assert isinstance(v, Decimal)
        return v

    def flag(self, name: str) -> bool:
        v = self._get(name)
        assert isinstance(v, bool)
        return v

    def strings(self, name: str) -> tuple[str, ...]:
        v = self._get(name)
        assert isinstance(v, tuple)
        return tuple(str(x) for x in v)

    def ints(self, name: str) -> tuple[int, ...]:
        v = self._get(name)
        assert isinstance(v, tuple)
        return tuple(int(x) for x in v)

    def used(self) -> dict[str, dict[str, object]]:
        """JSON for the entries used, by parameter name."""
        out: dict[str, dict[str, object]] = {}
        for name in sorted(self._used):
            e = self._used[name]
            out[name] = {
                "from": e.start.isoformat(),
                "until": e.until.isoformat() if e.until else None,
                "value": _json_value(e.value),
                "reference": e.reference,
            }
        return out


def _json_value(v: ParamValue) -> object:
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, Decimal):
        return str(v)
    return list(v)
