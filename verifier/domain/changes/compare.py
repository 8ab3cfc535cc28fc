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

import json
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Any

from verifier.domain.changes.codes import ChangeCode, WithheldReason
from verifier.domain.changes.reading import (
    ACTIVE,
    ANSWERED,
    CANCELLED,
    FAILING,
    HOUSEHOLD_REGISTRATION,
    PersonKey,
    ReportView,
)
from verifier.domain.errors import FieldViolation, InvalidArgument

JsonObject = dict[str, Any]

BELOW = "below"
AT_OR_ABOVE = "at_or_above"
WITHIN = "within"
ABOVE = "above"

# Asset categories whose registrations are counted, and the codes for more and fewer.
ASSET_CODES: Mapping[str, tuple[ChangeCode, ChangeCode]] = {
    "vehicle": (ChangeCode.VEHICLE_ADDED, ChangeCode.VEHICLE_REMOVED),
    "vessel": (ChangeCode.VEHICLE_ADDED, ChangeCode.VEHICLE_REMOVED),
    "real_estate": (ChangeCode.REAL_ESTATE_ADDED, ChangeCode.REAL_ESTATE_REMOVED),
    "business": (ChangeCode.BUSINESS_ADDED, ChangeCode.BUSINESS_REMOVED),
}

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


# --------------------------------------------------------------------------- members


@dataclass(frozen=True, slots=True)
class Person:
    """A member of either report, matched across both by subject_ref."""

    subject_ref: str
    id_type: str
    id_number_masked: str
    before: int | None
    after: int | None

    def to_json(self) -> JsonObject:
        return {
            "index_before": self.before,
            "index_after": self.after,
            "id_type": self.id_type,
            "id_number_masked": self.id_number_masked,
            "subject_ref": self.subject_ref,
        }


def match_members(prev: ReportView, cur: ReportView) -> tuple[Person, ...]:
    """Members of both reports by subject_ref; refused when a ref names two masked IDs."""
    before = {m.subject_ref: m for m in prev.members}
    after = {m.subject_ref: m for m in cur.members}
    out: list[Person] = []
    bad: list[FieldViolation] = []
    for ref in sorted(before.keys() | after.keys()):
        p, c = before.get(ref), after.get(ref)
        if p and c and (p.id_type, p.id_number_masked) != (c.id_type, c.id_number_masked):
            bad.append(
                FieldViolation(
                    f"current.member_refs[{c.index}]",
                    f"is previous.member_refs[{p.index}], but the reports show that member"
                    " with different masked IDs: the refs do not belong to these reports",
                )
            )
        base = c or p
        assert base is not None
        out.append(
            Person(
                ref,
                base.id_type,
                base.id_number_masked,
                p.index if p else None,
                c.index if c else None,
            )
        )
    if bad:
        raise InvalidArgument(bad)
    return tuple(sorted(out, key=_person_order))


def _person_order(p: Person) -> tuple[int, int, int]:
    if p.after is not None:
        return (1, p.after, -1 if p.before is None else p.before)
    return (2, -1, -1 if p.before is None else p.before)


# --------------------------------------------------------------------------- entries


def _entry(
    code: ChangeCode,
    *,
    member: Person | None = None,
    source: str | None = None,
    before: JsonObject | None,
    after: JsonObject | None,
    **detail: Any,
) -> JsonObject:
    return {
        "code": code.value,
        "label": code.label,
        "member": member.to_json() if member else None,
        "source": source,
        "before": before,
        "after": after,
        **detail,
    }


def _member_key(member: Mapping[str, Any] | None) -> tuple[int, int, int]:
    if member is None:
        return (0, -1, -1)
    after, before = member["index_after"], member["index_before"]
    if after is not None:
        return (1, after, -1 if before is None else before)
    return (2, -1, -1 if before is None else before)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def ordered_changes(entries: Iterable[JsonObject]) -> list[JsonObject]:
    """Code order, then the household before members (by index), then source, program,
    category, 户口簿 and person, then the entry's own canonical text: the same inputs
    always list the same way."""
    return sorted(
        entries,
        key=lambda e: (
            ChangeCode(e["code"]).rank,
            _member_key(e["member"]),
            e["source"] or "",
            e.get("program") or "",
            e.get("category") or "",
            _canonical(e.get("registration")),
            _canonical(e.get("person")),
            _canonical(e),
        ),
    )


# --------------------------------------------------------------------------- members, sources


def _membership(persons: Iterable[Person], prev: ReportView, cur: ReportView) -> list[JsonObject]:
    before = {"household_size": len(prev.members)}
    after = {"household_size": len(cur.members)}
    out = []
    for p in persons:
        if p.before is None:
            out.append(
                _entry(ChangeCode.HOUSEHOLD_MEMBER_ADDED, member=p, before=before, after=after)
            )
        elif p.after is None:
            out.append(
                _entry(ChangeCode.HOUSEHOLD_MEMBER_REMOVED, member=p, before=before, after=after)
            )
    return out


def _both(persons: Iterable[Person]) -> list[tuple[Person, int, int]]:
    return [(p, p.before, p.after) for p in persons if p.before is not None and p.after is not None]


def _sources(
    persons: Iterable[Person], kinds: Iterable[str], prev: ReportView, cur: ReportView
) -> list[JsonObject]:
    out = []
    kinds = tuple(kinds)
    for p, i, j in _both(persons):
        for kind in kinds:
            was, now = prev.status(i, kind), cur.status(j, kind)
            if was in ANSWERED and now in FAILING:
                out.append(
                    _entry(
                        ChangeCode.SOURCE_NEWLY_FAILING,
                        member=p,
                        source=kind,
                        before={"status": was},
                        after={"status": now},
                    )
                )
            if kind == HOUSEHOLD_REGISTRATION and was == "FOUND" and now == "NOT_FOUND":
                out.append(
                    _entry(
                        ChangeCode.HUKOU_CANCELLED,
                        member=p,
                        source=kind,
                        before={"status": was},
                        after={"status": now},
                    )
                )
    return out


def _withheld(
    persons: Iterable[Person], kinds: Iterable[str], prev: ReportView, cur: ReportView
) -> list[JsonObject]:
    out = []
    kinds = tuple(kinds)
    for p in persons:
        for kind in kinds:
            was = None if p.before is None else prev.status(p.before, kind)
            now = None if p.after is None else cur.status(p.after, kind)
            if (was is not None and was not in ANSWERED) or (
                now is not None and now not in ANSWERED
            ):
                out.append(
                    {
                        "reason": WithheldReason.SOURCE_UNANSWERED.value,
                        "member": p.to_json(),
                        "source": kind,
                        "before": was,
                        "after": now,
                    }
                )
    if prev.assessments is None or cur.assessments is None:
        out.append(
            {
                "reason": WithheldReason.ASSESSMENT_UNAVAILABLE.value,
                "member": None,
                "source": None,
                "before": "ASSESSED" if prev.assessments is not None else "UNAVAILABLE",
                "after": "ASSESSED" if cur.assessments is not None else "UNAVAILABLE",
            }
        )
    return sorted(out, key=lambda w: (w["reason"], _member_key(w["member"]), w["source"] or ""))


# --------------------------------------------------------------------------- assets, 户籍


def _asset_totals(view: ReportView, member: int, source: str) -> dict[str, tuple[int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for a in view.assets:
        if a.member_index == member and a.source == source and a.category in ASSET_CODES:
            count, value = totals.get(a.category, (0, 0))
            totals[a.category] = (count + a.count, value + a.value_fen)
    return totals


def _assets(
    persons: Iterable[Person], kinds: Iterable[str], prev: ReportView, cur: ReportView
) -> list[JsonObject]:
    """Registrations counted per member, source and category, where the source answered
    in both reports (a count that did not change is no claim, even if values did)."""
    out = []
    kinds = tuple(kinds)
    for p, i, j in _both(persons):
        for kind in kinds:
            if prev.status(i, kind) not in ANSWERED or cur.status(j, kind) not in ANSWERED:
                continue
            was, now = _asset_totals(prev, i, kind), _asset_totals(cur, j, kind)
            for category in sorted(was.keys() | now.keys()):
                (c0, v0), (c1, v1) = was.get(category, (0, 0)), now.get(category, (0, 0))
                if c0 == c1:
                    continue
                added, removed = ASSET_CODES[category]
                out.append(
                    _entry(
                        added if c1 > c0 else removed,
                        member=p,
                        source=kind,
                        before={"count": c0, "value_fen": v0},
                        after={"count": c1, "value_fen": v1},
                        category=category,
                    )
                )
    return out


def _cancelled(persons: Iterable[Person], prev: ReportView, cur: ReportView) -> list[JsonObject]:
    """Members whose 户籍 answer was a registration in force and is now their cancelled
    registration (注销), with the reason 户籍 gives (``death``…)."""
    out = []
    for p, i, j in _both(persons):
        reason = cur.cancellations.get(j)
        if reason is None or i in prev.cancellations:
            continue
        if prev.status(i, HOUSEHOLD_REGISTRATION) != "FOUND":
            continue  # no registration before: nothing was cancelled between the two
        out.append(
            _entry(
                ChangeCode.HUKOU_CANCELLED,
                member=p,
                source=HOUSEHOLD_REGISTRATION,
                before={"status": "FOUND", "registration": ACTIVE},
                after={"status": "FOUND", "registration": CANCELLED},
                cancel_reason=reason,
            )
        )
    return out


def _person_link(persons: Iterable[Person], key: PersonKey) -> Person | None:
    """The member a 户口簿 listing shows, when exactly one member has that masked ID."""
    found = [p for p in persons if (p.id_type, p.id_number_masked) == key]
    return found[0] if len(found) == 1 else None


def _registrations(
    persons: tuple[Person, ...], prev: ReportView, cur: ReportView, gone: Set[str]
) -> list[JsonObject]:
    """People added to or removed from a 户口簿 that 户籍 listed in both reports (the same
    department record: a member's own cancelled registration is not the household's).

    A member whose registration is now cancelled left the 户口簿 because of it: that is
    their HUKOU_CANCELLED, not a removal as well (a move out is one): ``gone`` holds the
    subject_refs of those members."""
    out = []
    for key in sorted(prev.registrations.keys() & cur.registrations.keys()):
        was, now = prev.registrations[key], cur.registrations[key]
        registration = {"region_code": key[0], "household_number_masked": key[1]}
        for person in sorted(was.persons.keys() | now.persons.keys()):
            n0, n1 = was.persons[person], now.persons[person]
            if n0 == n1:
                continue
            relation = (now if n1 > n0 else was).relations.get(person, "")
            member = _person_link(persons, person)
            if n1 < n0 and member is not None and member.subject_ref in gone:
                continue
            out.append(
                _entry(
                    ChangeCode.HUKOU_MEMBER_ADDED if n1 > n0 else ChangeCode.HUKOU_MEMBER_REMOVED,
                    member=member,
                    source=HOUSEHOLD_REGISTRATION,
                    before={"listed": n0},
                    after={"listed": n1},
                    registration=registration,
                    person={
                        "id_type": person[0],
                        "id_number_masked": person[1],
                        "relation": relation,
                    },
                )
            )
    return out


# --------------------------------------------------------------------------- the policy's findings


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


def _income_lines(
    prev: Mapping[str, Mapping[str, Any]], cur: Mapping[str, Mapping[str, Any]]
) -> list[JsonObject]:
    out = []
    for find, program, keys, up, down in _LINES:
        was, now = find(prev), find(cur)
        if was is None or now is None or was[0] == now[0]:
            continue
        out.append(
            _entry(
                up if now[0] == AT_OR_ABOVE else down,
                before=_finding(was[0], was[1], keys),
                after=_finding(now[0], now[1], keys),
                program=program,
            )
        )
    return out


def _asset_limits(
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
            _entry(
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


def _programs(
    prev: Mapping[str, Mapping[str, Any]], cur: Mapping[str, Mapping[str, Any]]
) -> list[JsonObject]:
    out = []
    for key in sorted(prev.keys() & cur.keys()):
        was, now = prev[key], cur[key]
        if was.get("outcome") != now.get("outcome"):
            out.append(
                _entry(
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
                _entry(
                    ChangeCode.TAPER_STARTED if started else ChangeCode.TAPER_ENDED,
                    before=none if started else granted,
                    after=granted if started else none,
                    program="dibao",
                )
            )
    return out


# --------------------------------------------------------------------------- the whole comparison


@dataclass(frozen=True)
class Comparison:
    household_figures_compared: bool
    changes: list[JsonObject]
    withheld: list[JsonObject]


def compare(prev: ReportView, cur: ReportView) -> Comparison:
    """Every change between ``prev`` and ``cur`` (already checked to be one household)."""
    persons = match_members(prev, cur)
    kinds = sorted(prev.kinds() | cur.kinds())
    cancelled = _cancelled(persons, prev, cur)
    gone = {e["member"]["subject_ref"] for e in cancelled}
    changes = [
        *_membership(persons, prev, cur),
        *_sources(persons, kinds, prev, cur),
        *_assets(persons, kinds, prev, cur),
        *cancelled,
        *_registrations(persons, prev, cur, gone),
    ]
    withheld = _withheld(persons, kinds, prev, cur)
    # Household figures rest on every member × source: with any one unanswered (or no
    # assessment), no household change is claimed in either direction.
    compared = not withheld
    if compared and prev.assessments is not None and cur.assessments is not None:
        changes += _income_lines(prev.assessments, cur.assessments)
        changes += _asset_limits(prev.assessments, cur.assessments)
        changes += _programs(prev.assessments, cur.assessments)
    return Comparison(compared, ordered_changes(changes), withheld)


__all__ = ["Comparison", "Person", "compare", "match_members", "ordered_changes"]
