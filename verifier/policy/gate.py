"""Which served regions would be assessed with example values: the check ``hedui serve``
makes in production before it opens anything.

A value no document states is an example (``status = "example"``). A production server
must not present conclusions resting on such placeholders unless its operator has said,
region by region, that this is accepted (``[policy] allow_example_parameters``); reports
then still mark every example value they used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from verifier.policy.params import Policy, load_policy, packaged_regions


@dataclass(frozen=True, slots=True)
class ExampleUse:
    """A served region whose policy has example values in force on a day."""

    region: str
    name: str
    parameters: tuple[str, ...]


def served_policies(prefixes: Iterable[str]) -> list[Policy]:
    """The packaged policies that assess some region under the GB/T 2260 ``prefixes``: a
    county file under a prefix, or a city or province file above it."""
    wanted = tuple(dict.fromkeys(prefixes))
    out: dict[str, Policy] = {}
    for code in packaged_regions():
        policy = load_policy(code)
        if any(code.startswith(p) or policy.serves(p) for p in wanted):
            out[code] = policy
    return [out[c] for c in sorted(out)]


def example_uses(
    prefixes: Iterable[str], day: date, allowed: Iterable[str] = ()
) -> list[ExampleUse]:
    """Served regions with example values in force on ``day``, except those ``allowed``."""
    permitted = frozenset(allowed)
    uses = []
    for policy in served_policies(prefixes):
        names = policy.examples_in_force(day)
        if names and policy.region not in permitted:
            uses.append(ExampleUse(policy.region, policy.name, tuple(names)))
    return uses


def refusal_message(uses: list[ExampleUse], day: date) -> str:
    """What the operator is told when production refuses to serve example values."""
    lines = [
        f"refusing to serve in production: on {day.isoformat()} these regions' parameters "
        "in force are example values that no document states:"
    ]
    for u in uses:
        lines.append(f"  region {u.region} ({u.name}): {', '.join(u.parameters)}")
    codes = ", ".join(f'"{u.region}"' for u in uses)
    lines.append(
        "Set them from the region's own documents in its policy file (reference status "
        '"regional" with the 文号; see docs/policy-files.md), or accept them explicitly in '
        f"the configuration: [policy] allow_example_parameters = [{codes}] "
        "(every report then marks the example values it used)."
    )
    return "\n".join(lines)
