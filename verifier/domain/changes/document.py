"""The change document (``schema: hedui.changes/v1``) between two checks of one household.

Pure: two issued report versions in, one JSON document out, the same bytes for the same
inputs (no clock, no random ids), so a comparison repeated after a crash signs the same
document. Signing it (DSSE, payload type ``application/vnd.hedui.changes+json;
version=1``, RFC 8785 body) is :mod:`verifier.signing.changes`.

No raw personal data: members appear as the reports show them (index, masked ID) with
their keyed subject_ref; no names, no record ids (a plate or certificate number can be
one), no free text from a source.
"""

from __future__ import annotations

from typing import Any

from verifier.domain.changes.compare import compare
from verifier.domain.changes.reading import ReportVersion, ReportView, read_report
from verifier.domain.errors import FieldViolation, InvalidArgument

SCHEMA = "hedui.changes/v1"


class DifferentHouseholds(InvalidArgument):
    """The two reports are not of one household; nothing is compared."""


def _same_household(prev: ReportView, cur: ReportView) -> None:
    problems = []
    if prev.household_ref != cur.household_ref:
        problems.append(
            FieldViolation(
                "current.household_ref",
                "names a different household than previous.household_ref;"
                " only two checks of the same household are compared",
            )
        )
    if prev.region != cur.region:
        problems.append(
            FieldViolation(
                "current.document.region",
                f"is {cur.region}, the previous report's is {prev.region}; a household that"
                " moved is compared from its first check in the new region on",
            )
        )
    if problems:
        raise DifferentHouseholds(problems)


def _in_order(prev: ReportView, cur: ReportView) -> None:
    if cur.created_at < prev.created_at:
        raise InvalidArgument(
            [FieldViolation("current.document.created_at", "is earlier than the previous report's")]
        )
    if prev.envelope_sha256 == cur.envelope_sha256 and prev.document != cur.document:
        raise InvalidArgument(
            [
                FieldViolation(
                    "current.envelope_sha256",
                    "names the previous report's envelope, but the documents differ",
                )
            ]
        )


def change_document(previous: ReportVersion, current: ReportVersion) -> dict[str, Any]:
    """The change document from ``previous`` to ``current``.

    Raises :class:`DifferentHouseholds` when the household references (or regions)
    differ, and :class:`InvalidArgument` naming the field when either input is not an
    issued report with its refs, or ``current`` is older than ``previous``. The same
    report twice gives an empty ``changes`` list.
    """
    problems: list[FieldViolation] = []
    views: list[ReportView] = []
    for version, side in ((previous, "previous"), (current, "current")):
        try:
            views.append(read_report(version, side))
        except InvalidArgument as exc:
            problems += exc.violations
    if problems:
        raise InvalidArgument(problems)
    prev, cur = views
    _same_household(prev, cur)
    _in_order(prev, cur)
    result = compare(prev, cur)
    return {
        "schema": SCHEMA,
        "household": {"region": cur.region, "household_ref": cur.household_ref},
        "previous": prev.reference(),
        "current": cur.reference(),
        "household_figures_compared": result.household_figures_compared,
        "changes": result.changes,
        "withheld": result.withheld,
    }


__all__ = ["SCHEMA", "DifferentHouseholds", "change_document"]
