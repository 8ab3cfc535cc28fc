"""Household changes in the policy's own findings: income against the 低保 standard, the
低保边缘 line and the 渐退 ceiling, financial assets against the limits, and each
program's outcome and 渐退.

Where a report records the policy's finding, that finding is what is compared, and the
figures it rests on are copied beside it as the report states them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from verifier.domain.changes.codes import ChangeCode
from verifier.domain.changes.entries import JsonObject, entry

BELOW = "below"
AT_OR_ABOVE = "at_or_above"
WITHIN = "within"
ABOVE = "above"

# The programs whose household financial-asset limit is compared: 低保's and 低保边缘's
# (the others reuse one of these two limits).
ASSET_LIMIT_PROGRAMS = ("dibao", "dibao_bianyuan")

_INCOME = ("monthly_per_capita_income_fen", "monthly_per_capita_income_exact")
_STANDARD_KEYS = (*_INCOME, "standard_fen")
_BIANYUAN_KEYS = (*_INCOME, "line_fen", "line_exact", "multiplier", "standard_fen")
_TAPER_KEYS = (
    *_INCOME,
    "taper_ceiling_fen",
    "taper_ceiling_exact",
    "taper_multiplier",
    "standard_fen",
    "currently_receiving",
)
_ASSET_LIMIT_KEYS = (
    "financial_assets_fen",
    "limit_fen",
    "standard_fen",
    "months",
    "household_size",
)


def _reasons(program: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in program.get("reasons", []) if isinstance(r, dict)]


def _household_reason(program: Mapping[str, Any] | None, *rules: str) -> Mapping[str, Any] | None:
    if program is None:
        return None
    for r in _reasons(program):
        if r.get("rule") in rules and r.get("member") is None:
            return r
    return None


def _scalar(value: Any) -> bool:
    return value is None or type(value) in (int, str, bool)


def _finding(position: str, reason: Mapping[str, Any], keys: Iterable[str]) -> JsonObject:
    values = reason.get("values")
    values = values if isinstance(values, dict) else {}
    out: JsonObject = {
        "position": position,
        "rule": reason.get("rule"),
        "outcome": reason.get("outcome"),
    }
    reference = reason.get("reference")
    if isinstance(reference, str):
        out["reference"] = reference
    out.update({k: values[k] for k in keys if k in values and _scalar(values[k])})
    return out


Finding = tuple[str, Mapping[str, Any]]


def _standard_line(assessments: Mapping[str, Mapping[str, Any]]) -> Finding | None:
    """Income against the 低保 standard, as the 低保 income rule found it."""
    r = _household_reason(assessments.get("dibao"), "dibao.income", "dibao.taper")
    if r is None:
        return None
    if r["rule"] == "dibao.taper" or r.get("outcome") == "INELIGIBLE":
        return AT_OR_ABOVE, r
    if r.get("outcome") == "ELIGIBLE":
        return BELOW, r
    return None


def _taper_line(assessments: Mapping[str, Mapping[str, Any]]) -> Finding | None:
    """Income against the 渐退 ceiling (2× the standard where the region sets 2).

    The policy finds this only for a household receiving 低保 (渐退 applies to no
    other): below the standard is below the ceiling (渐退 covers incomes above the
    standard, so its ceiling is never lower); the 渐退 rule itself means below the
    ceiling; a receiving household refused by the income rule is at or above it. For a
    household not receiving 低保 the report records no finding and none is claimed.
    """
    r = _household_reason(assessments.get("dibao"), "dibao.income", "dibao.taper")
    if r is None:
        return None
    values = r.get("values")
    receiving = isinstance(values, dict) and values.get("currently_receiving") is True
    if r["rule"] == "dibao.taper" or r.get("outcome") == "ELIGIBLE":
        return BELOW, r
    if r.get("outcome") == "INELIGIBLE" and receiving:
        return AT_OR_ABOVE, r
    return None


def _bianyuan_line(assessments: Mapping[str, Mapping[str, Any]]) -> Finding | None:
    """Income against the 低保边缘 line (1.5× the standard where the region sets 1.5),
    as the 低保边缘 income rule found it (when the check assessed 低保边缘)."""
    r = _household_reason(assessments.get("dibao_bianyuan"), "dibao_bianyuan.income")
    if r is None:
        return None
    position = {"ELIGIBLE": BELOW, "INELIGIBLE": AT_OR_ABOVE}.get(str(r.get("outcome")))
    return None if position is None else (position, r)


_LINES = (
    (
        _standard_line,
        "dibao",
        _STANDARD_KEYS,
        ChangeCode.INCOME_ABOVE_DIBAO_STANDARD,
        ChangeCode.INCOME_BELOW_DIBAO_STANDARD,
    ),
    (
        _bianyuan_line,
        "dibao_bianyuan",
        _BIANYUAN_KEYS,
        ChangeCode.INCOME_ABOVE_BIANYUAN_LINE,
        ChangeCode.INCOME_BELOW_BIANYUAN_LINE,
    ),
    (
        _taper_line,
        "dibao",
        _TAPER_KEYS,
        ChangeCode.INCOME_ABOVE_TAPER_CEILING,
        ChangeCode.INCOME_BELOW_TAPER_CEILING,
    ),
)


def income_lines(
    prev: Mapping[str, Mapping[str, Any]], cur: Mapping[str, Mapping[str, Any]]
) -> list[JsonObject]:
    out = []
    for find, program, keys, up, down in _LINES:
        was, now = find(prev), find(cur)
        if was is None or now is None or was[0] == now[0]:
            continue
        out.append(
            entry(
                up if now[0] == AT_OR_ABOVE else down,
                before=_finding(was[0], was[1], keys),
                after=_finding(now[0], now[1], keys),
                program=program,
            )
        )
    return out


def asset_limits(
    prev: Mapping[str, Mapping[str, Any]], cur: Mapping[str, Mapping[str, Any]]
) -> list[JsonObject]:
    out = []
    for program in ASSET_LIMIT_PROGRAMS:
        rule = f"{program}.financial_assets"
        was = _household_reason(prev.get(program), rule)
        now = _household_reason(cur.get(program), rule)
        positions = {"ELIGIBLE": WITHIN, "INELIGIBLE": ABOVE}
        p0 = positions.get(str(was.get("outcome"))) if was else None
        p1 = positions.get(str(now.get("outcome"))) if now else None
        if was is None or now is None or p0 is None or p1 is None or p0 == p1:
            continue
        out.append(
            entry(
                ChangeCode.FINANCIAL_ASSETS_ABOVE_LIMIT
                if p1 == ABOVE
                else ChangeCode.FINANCIAL_ASSETS_WITHIN_LIMIT,
                before=_finding(p0, was, _ASSET_LIMIT_KEYS),
                after=_finding(p1, now, _ASSET_LIMIT_KEYS),
                program=program,
            )
        )
    return out


_OUTCOME_CODES = {
    "INELIGIBLE": ChangeCode.PROGRAM_BECAME_INELIGIBLE,
    "NEEDS_REVIEW": ChangeCode.PROGRAM_NEEDS_REVIEW,
    "ELIGIBLE": ChangeCode.PROGRAM_BECAME_ELIGIBLE,
}


def _deciding_rules(program: Mapping[str, Any]) -> list[str]:
    """The rules whose finding is the program's outcome (none for ELIGIBLE)."""
    outcome = program.get("outcome")
    if outcome == "ELIGIBLE":
        return []
    reasons = _reasons(program)
    for m in program.get("members", []):
        if isinstance(m, dict):
            reasons += _reasons(m)
    return sorted(
        {str(r.get("rule")) for r in reasons if r.get("outcome") == outcome and r.get("rule")}
    )


def _program_side(program: Mapping[str, Any]) -> JsonObject:
    amount = program.get("amount_fen")
    return {
        "outcome": program.get("outcome"),
        "amount_fen": amount if type(amount) is int else None,
        "rules": _deciding_rules(program),
    }


def _taper(program: Mapping[str, Any]) -> Any:
    """The 渐退 period a 低保 finding grants, or None. Reports name it
    ``taper_months_range`` (a caseworker chooses within it); reports issued before the
    range named it ``taper_months``, and stored reports keep the form they were signed in."""
    if "taper_months_range" in program:
        return program["taper_months_range"]
    return program.get("taper_months")


def programs(
    prev: Mapping[str, Mapping[str, Any]], cur: Mapping[str, Mapping[str, Any]]
) -> list[JsonObject]:
    out = []
    for key in sorted(prev.keys() & cur.keys()):
        was, now = prev[key], cur[key]
        if was.get("outcome") != now.get("outcome"):
            out.append(
                entry(
                    _OUTCOME_CODES[str(now.get("outcome"))],
                    before=_program_side(was),
                    after=_program_side(now),
                    program=key,
                )
            )
    if "dibao" in prev and "dibao" in cur:
        t0, t1 = _taper(prev["dibao"]), _taper(cur["dibao"])
        if (t0 is None) != (t1 is None):
            started = t1 is not None
            side = cur if started else prev
            reason = _household_reason(side["dibao"], "dibao.taper")
            granted: JsonObject = {"taper_months": t1 if started else t0}
            if reason is not None:
                granted |= _finding(BELOW, reason, _TAPER_KEYS)
            none: JsonObject = {"taper_months": None}
            out.append(
                entry(
                    ChangeCode.TAPER_STARTED if started else ChangeCode.TAPER_ENDED,
                    before=none if started else granted,
                    after=granted if started else none,
                    program="dibao",
                )
            )
    return out


__all__ = ["ASSET_LIMIT_PROGRAMS", "asset_limits", "income_lines", "programs"]
