"""Change documents for income: crossing the 低保 standard, the 边缘 line and the taper
ceiling (both ways, to the fen, as the policy finds it), and the taper range.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from tests.unit.changes_helpers import (
    APPLICANT,
    BASE,
    CHILD,
    SPOUSE,
    Check,
    S,
    changes_between,
    check,
    codes,
    only,
    program,
)
from verifier.domain.changes import ChangeCode, change_document


def income_reason(c: Check) -> Mapping[str, Any]:
    return next(
        r
        for r in program(c, "dibao")["reasons"]
        if r["rule"] in ("dibao.income", "dibao.taper") and r["member"] is None
    )


# --------------------------------------------------------------------------- income lines


def test_income_rising_to_the_standard_exactly_crosses_it() -> None:
    # The policy's rule is "strictly below the standard": y = S is not below it.
    prev, cur = (
        check(BASE.with_(monthly_per_capita_fen=S - 1)),
        check(BASE.with_(monthly_per_capita_fen=S)),
    )
    assert income_reason(prev)["outcome"] == "ELIGIBLE"
    assert income_reason(cur)["rule"] == "dibao.taper"
    doc = change_document(prev.version, cur.version)
    entry = only(doc, ChangeCode.INCOME_ABOVE_DIBAO_STANDARD)
    assert entry["member"] is None and entry["source"] is None and entry["program"] == "dibao"
    assert entry["before"]["position"] == "below"
    assert entry["before"]["monthly_per_capita_income_fen"] == S - 1
    assert entry["before"]["standard_fen"] == S
    assert entry["before"]["rule"] == "dibao.income" and entry["before"]["reference"]
    assert entry["after"]["position"] == "at_or_above"
    assert entry["after"]["monthly_per_capita_income_fen"] == S
    assert entry["after"]["standard_fen"] == S
    # A receiving household just over the standard tapers off: 渐退 starts, the program
    # stays ELIGIBLE, and the income is still below the 渐退 ceiling.
    assert codes(doc) == ["INCOME_ABOVE_DIBAO_STANDARD", "TAPER_STARTED"]


def test_one_fen_below_the_standard_both_times_is_no_change() -> None:
    doc = changes_between(
        BASE.with_(monthly_per_capita_fen=S // 2), BASE.with_(monthly_per_capita_fen=S - 1)
    )
    assert doc["changes"] == []


def test_the_policys_finding_decides_a_fraction_of_a_fen_not_the_rounded_figure() -> None:
    # Three members and 36·S − 1 fen over 12 months: y = S − 1/36 fen, shown rounded as
    # S. The policy compares the exact value (a fraction of a fen goes to the family), so
    # the household is below the standard, and no crossing is claimed from below it.
    three = BASE.with_(
        members=(APPLICANT, SPOUSE, CHILD),
        registered=(APPLICANT, SPOUSE, CHILD),
        monthly_per_capita_fen=None,
    )
    prev = check(three.with_(wages_fen={0: 30 * S}))
    cur = check(three.with_(wages_fen={0: 36 * S - 1}))
    reason = income_reason(cur)
    assert reason["values"]["monthly_per_capita_income_fen"] == S
    assert reason["outcome"] == "ELIGIBLE", "the policy found y = S − 1/36 fen below S"
    doc = change_document(prev.version, cur.version)
    assert ChangeCode.INCOME_ABOVE_DIBAO_STANDARD.value not in codes(doc)


def test_income_falling_below_the_standard() -> None:
    doc = changes_between(
        BASE.with_(monthly_per_capita_fen=S + S // 4), BASE.with_(monthly_per_capita_fen=S // 2)
    )
    entry = only(doc, ChangeCode.INCOME_BELOW_DIBAO_STANDARD)
    assert entry["before"]["position"] == "at_or_above"
    assert entry["after"]["position"] == "below"
    assert entry["after"]["monthly_per_capita_income_fen"] == S // 2
    assert codes(doc) == ["INCOME_BELOW_DIBAO_STANDARD", "TAPER_ENDED"]


def test_income_crossing_the_bianyuan_line_both_ways() -> None:
    line = S * 3 // 2
    low, high = BASE.with_(monthly_per_capita_fen=line - 1), BASE.with_(monthly_per_capita_fen=line)
    up = changes_between(low, high)
    entry = only(up, ChangeCode.INCOME_ABOVE_BIANYUAN_LINE)
    assert entry["program"] == "dibao_bianyuan"
    assert entry["before"]["rule"] == "dibao_bianyuan.income"
    assert entry["before"]["line_fen"] == line and entry["after"]["line_fen"] == line
    assert entry["before"]["multiplier"] == "1.5"
    assert entry["after"]["monthly_per_capita_income_fen"] == line
    assert "PROGRAM_BECAME_INELIGIBLE" in codes(up)  # 低保边缘 refused at the line
    down = changes_between(high, low)
    assert only(down, ChangeCode.INCOME_BELOW_BIANYUAN_LINE)["after"]["position"] == "below"
    assert ChangeCode.INCOME_ABOVE_BIANYUAN_LINE.value not in codes(down)


def test_income_crossing_the_taper_ceiling_ends_the_taper() -> None:
    ceiling = 2 * S
    prev = check(BASE.with_(monthly_per_capita_fen=ceiling - 1))
    cur = check(BASE.with_(monthly_per_capita_fen=ceiling))
    doc = change_document(prev.version, cur.version)
    entry = only(doc, ChangeCode.INCOME_ABOVE_TAPER_CEILING)
    assert entry["before"]["rule"] == "dibao.taper"
    assert entry["after"]["taper_ceiling_fen"] == ceiling
    assert entry["after"]["taper_multiplier"] == "2"
    assert entry["after"]["currently_receiving"] is True
    assert codes(doc) == ["INCOME_ABOVE_TAPER_CEILING", "PROGRAM_BECAME_INELIGIBLE", "TAPER_ENDED"]
    back = change_document(
        cur.version, check(BASE.with_(monthly_per_capita_fen=S * 3 // 2 + 1)).version
    )
    assert codes(back) == ["INCOME_BELOW_TAPER_CEILING", "PROGRAM_BECAME_ELIGIBLE", "TAPER_STARTED"]


def test_the_taper_ceiling_is_not_claimed_for_a_household_not_receiving_dibao() -> None:
    # 渐退 applies only to current 低保 households: for others the report records no
    # finding about its ceiling, and none is made up.
    new = BASE.with_(receiving=())
    doc = changes_between(
        new.with_(monthly_per_capita_fen=2 * S - 1), new.with_(monthly_per_capita_fen=2 * S)
    )
    assert doc["changes"] == []


def test_the_taper_starting_is_reported_with_its_range() -> None:
    prev, cur = check(BASE), check(BASE.with_(monthly_per_capita_fen=S + S // 10))
    doc = change_document(prev.version, cur.version)
    entry = only(doc, ChangeCode.TAPER_STARTED)
    assert entry["program"] == "dibao"
    assert entry["before"] == {"taper_months": None}
    granted = program(cur, "dibao")["taper_months_range"]
    assert granted is not None and entry["after"]["taper_months"] == granted
    assert entry["after"]["rule"] == "dibao.taper" and entry["after"]["position"] == "below"


def test_a_report_signed_before_the_taper_range_is_read_in_its_own_form() -> None:
    prev = check(BASE.with_(monthly_per_capita_fen=S + 1))
    old = json.loads(json.dumps(prev.document))
    old["assessments"]["dibao"].pop("taper_months_range")
    old["assessments"]["dibao"]["taper_months"] = 3
    stored = dataclasses.replace(prev.version, document=old)
    doc = change_document(stored, check(BASE).version)
    entry = only(doc, ChangeCode.TAPER_ENDED)
    assert entry["before"]["taper_months"] == 3 and entry["after"] == {"taper_months": None}
