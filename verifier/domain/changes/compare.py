"""What changed between two reports of one household, each change with its reason code.

The rule that keeps a change document honest: **a change is claimed only between two
answers that both exist.** A source that answers now but did not before, or answered
before and does not now, says nothing about whether the family's situation changed:

* per member and source, assets are compared only where that source answered (FOUND
  or NOT_FOUND) in both reports; a source that answered before and is FAILED or DENIED
  now is reported as SOURCE_NEWLY_FAILING, never as "assets gone";
* household figures (income against the lines, financial assets against the limits,
  the programs' findings) are compared only when every member answered every source in
  both reports, and both carry an assessment; otherwise each unanswered member × source
  is listed under ``withheld`` and no household change is claimed either way.

Where a report records the policy's own finding (the income rule ELIGIBLE because the
income is below the standard, say), that finding is what is compared: the document can
never contradict the report it cites, whatever rounding or tie rule the policy applied.
The figures the finding rests on are copied beside it, as the report states them.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.domain.changes import findings, members
from verifier.domain.changes.entries import (
    JsonObject,
    Person,
    match_members,
    ordered_changes,
)
from verifier.domain.changes.reading import ReportView


@dataclass(frozen=True)
class Comparison:
    household_figures_compared: bool
    changes: list[JsonObject]
    withheld: list[JsonObject]


def compare(prev: ReportView, cur: ReportView) -> Comparison:
    """Every change between ``prev`` and ``cur`` (already checked to be one household)."""
    persons = match_members(prev, cur)
    kinds = sorted(prev.kinds() | cur.kinds())
    cancelled = members.cancelled(persons, prev, cur)
    gone = {e["member"]["subject_ref"] for e in cancelled}
    changes = [
        *members.membership(persons, prev, cur),
        *members.sources(persons, kinds, prev, cur),
        *members.assets(persons, kinds, prev, cur),
        *cancelled,
        *members.registrations(persons, prev, cur, gone),
    ]
    withheld = members.withheld(persons, kinds, prev, cur)
    # Household figures rest on every member × source: with any one unanswered (or no
    # assessment), no household change is claimed in either direction.
    compared = not withheld
    if compared and prev.assessments is not None and cur.assessments is not None:
        changes += findings.income_lines(prev.assessments, cur.assessments)
        changes += findings.asset_limits(prev.assessments, cur.assessments)
        changes += findings.programs(prev.assessments, cur.assessments)
    return Comparison(compared, ordered_changes(changes), withheld)


__all__ = ["Comparison", "Person", "compare", "match_members", "ordered_changes"]
