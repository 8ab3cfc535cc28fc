"""What the rules find: an outcome per check (:class:`Reason`), per person and per program."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from verifier.domain.household import PURPOSE_LABELS, Purpose

JsonScalar = int | str | bool | None


class Outcome(StrEnum):
    ELIGIBLE = "ELIGIBLE"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    INELIGIBLE = "INELIGIBLE"

    @property
    def rank(self) -> int:
        """ELIGIBLE 2 > NEEDS_REVIEW 1 > INELIGIBLE 0."""
        return {"ELIGIBLE": 2, "NEEDS_REVIEW": 1, "INELIGIBLE": 0}[self.value]


def worst(outcomes: Iterable[Outcome | None]) -> Outcome:
    present = [o for o in outcomes if o is not None]
    return min(present, key=lambda o: o.rank) if present else Outcome.ELIGIBLE


def best(outcomes: Iterable[Outcome]) -> Outcome:
    present = list(outcomes)
    return max(present, key=lambda o: o.rank) if present else Outcome.INELIGIBLE


@dataclass(frozen=True)
class Reason:
    """One rule applied: ``outcome`` None marks a note that does not decide anything.

    ``examples`` names the parameters this reason used whose values are examples (no
    document states them), so a reader sees which conclusions rest on placeholders.
    """

    rule: str
    outcome: Outcome | None
    reference: str
    values: Mapping[str, JsonScalar]
    text: str
    member: int | None = None
    examples: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "outcome": self.outcome.value if self.outcome is not None else None,
            "reference": self.reference,
            "example_parameters": list(self.examples),
            "values": dict(self.values),
            "text": self.text,
            "member": self.member,
        }


@dataclass(frozen=True)
class MemberResult:
    """A person-level finding (特困, 单人户, 因病致贫 patients)."""

    index: int
    route: str
    outcome: Outcome
    amount_fen: int | None
    reasons: tuple[Reason, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "member": self.index,
            "route": self.route,
            "outcome": self.outcome.value,
            "amount_fen": self.amount_fen,
            "reasons": [r.to_json() for r in self.reasons],
        }


@dataclass(frozen=True)
class ProgramResult:
    """One program's indicative finding.

    ``amount_fen``: 低保 monthly household top-up ``(S − y) × n`` (exact, rounded once);
    特困 monthly total of the basic-living standard for the members found; None where the
    rule gives none. ``taper_months``: the 渐退 range (min, max) a caseworker chooses
    within. ``range_fen``: 临时救助's applicable band (min, max) in fen, which is not a
    cap where ``case_by_case`` (一事一议); ``ranges`` every band the region states;
    ``fallback`` the sentence saying the provincial and national rule applies instead.
    """

    program: Purpose
    outcome: Outcome
    reasons: tuple[Reason, ...]
    amount_fen: int | None = None
    standard_fen: int | None = None
    taper_months: tuple[int, int] | None = None
    range_fen: tuple[int, int] | None = None
    ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    members: tuple[MemberResult, ...] = ()
    band: str | None = None
    case_by_case: bool = False
    fallback: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "program": self.program.value,
            "name": PURPOSE_LABELS[self.program],
            "outcome": self.outcome.value,
            "amount_fen": self.amount_fen,
            "standard_fen": self.standard_fen,
            "taper_months_range": (
                {"min": self.taper_months[0], "max": self.taper_months[1]}
                if self.taper_months
                else None
            ),
            "range_fen": (
                {"min": self.range_fen[0], "max": self.range_fen[1]} if self.range_fen else None
            ),
            "ranges_fen": {k: {"min": v[0], "max": v[1]} for k, v in sorted(self.ranges.items())},
            "reasons": [r.to_json() for r in self.reasons],
            "members": [m.to_json() for m in self.members],
        }
        if self.program is Purpose.LINSHI:
            out["band"] = self.band
            out["case_by_case"] = self.case_by_case
            out["fallback"] = self.fallback
        return out
