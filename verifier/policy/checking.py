"""Checking one parameter of a policy file: its values, their bounds, their references and
the order of its dated entries. Each problem names the parameter and the entry."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from verifier.policy.policies import (
    CITED,
    Entry,
    Kind,
    ParamValue,
    PolicyProblem,
    Reference,
    Spec,
    Status,
)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_value(kind: Kind, raw: object) -> tuple[ParamValue | None, str | None]:
    """(value, None) or (None, what is wrong)."""
    if isinstance(raw, float):
        if kind is Kind.FEN:
            return None, f"float money {raw!r}: money is integer fen (value_fen = 98000)"
        return None, f'float {raw!r}: write decimals as strings (value = "{raw}")'
    if kind is Kind.FEN or kind is Kind.INT:
        if isinstance(raw, bool) or not isinstance(raw, int):
            return None, f"expected an integer, got {type(raw).__name__}"
        return raw, None
    if kind is Kind.BOOL:
        if not isinstance(raw, bool):
            return None, f"expected true/false, got {type(raw).__name__}"
        return raw, None
    if kind is Kind.CHOICE:
        if not isinstance(raw, str):
            return None, f"expected a word in quotes, got {type(raw).__name__}"
        return raw, None
    if kind in (Kind.MULTIPLIER, Kind.RATIO, Kind.PERCENT, Kind.DECIMAL):
        if not isinstance(raw, str):
            return None, f'expected a decimal string such as "1.5", got {type(raw).__name__}'
        try:
            d = Decimal(raw.strip())
        except InvalidOperation:
            return None, f"not a decimal number: {raw!r}"
        if not d.is_finite():
            return None, f"not a finite decimal: {raw!r}"
        return d, None
    if kind is Kind.STR_LIST:
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            return None, "expected a list of strings"
        return tuple(raw), None
    if not isinstance(raw, list) or not all(_is_int(x) for x in raw):
        return None, "expected a list of integers"
    return tuple(raw), None


def _bounds_problem(name: str, spec: Spec, value: ParamValue) -> str | None:
    if isinstance(value, tuple):
        if spec.choices is not None:
            bad = [x for x in value if x not in spec.choices]
            if bad:
                return f"unknown values {bad!r}; allowed: {sorted(spec.choices, key=str)!r}"
        return None
    if isinstance(value, str):
        if spec.choices is not None and value not in spec.choices:
            return f"unknown value {value!r}; allowed: {sorted(spec.choices, key=str)!r}"
        return None
    if isinstance(value, bool):
        return None
    lo = spec.minimum
    hi = spec.maximum
    if spec.kind is Kind.MULTIPLIER and lo is None:
        lo = Decimal(1)
    if spec.kind in (Kind.RATIO, Kind.PERCENT, Kind.DECIMAL) and lo is None:
        lo = Decimal(0)
    if spec.kind is Kind.RATIO:
        hi = Decimal(1)
    if spec.kind is Kind.PERCENT:
        hi = Decimal(100)
    if lo is not None and value < lo:
        what = "multiplier" if spec.kind is Kind.MULTIPLIER else "value"
        why = f" ({spec.floor_reason})" if spec.floor_reason else ""
        return f"{what} {value} is below the minimum {lo}{why}"
    if hi is not None and value > hi:
        return f"value {value} is above the maximum {hi}"
    return None


_ENTRY_KEYS = frozenset({"from", "until", "value", "value_fen", "reference", "note"})
_REFERENCE_KEYS = frozenset({"status", "document", "section", "topic", "note"})
_REFERENCE_HELP = (
    '\'reference\' must be a table: { status = "seed", document = "文号", section = "第五条" }'
    ' or { status = "example", note = "…" }'
)


def _one_line(text: str) -> bool:
    return bool(text.strip()) and text.isprintable()


def _parse_reference(raw: object) -> tuple[Reference | None, list[str]]:
    """(reference, []) or (None, what is wrong)."""
    if raw is None:
        return None, ["'reference' (where this value comes from) is missing; " + _REFERENCE_HELP]
    if not isinstance(raw, dict):
        # Prose such as "…（示例值）" is what this table replaced: a reader could not tell
        # a cited value from a placeholder.
        return None, [_REFERENCE_HELP]
    problems: list[str] = []
    unknown = sorted(set(raw) - _REFERENCE_KEYS)
    if unknown:
        problems.append(f"unknown keys in 'reference': {unknown}")
    texts: dict[str, str | None] = {}
    for key in ("document", "section", "topic", "note"):
        v = raw.get(key)
        if v is not None and not (isinstance(v, str) and _one_line(v)):
            problems.append(f"reference.{key} must be a non-empty one-line string")
            v = None
        texts[key] = v.strip() if isinstance(v, str) else None
    try:
        status = Status(str(raw.get("status")))
    except ValueError:
        allowed = ", ".join(s.value for s in Status)
        return None, [*problems, f"reference.status must be one of {allowed}"]
    if status in CITED and texts["document"] is None:
        problems.append(f"reference.document (文号) is required when status is {status.value!r}")
    if status not in CITED and texts["document"] is not None:
        problems.append(
            f"reference.document is only for cited values; status {status.value!r} "
            "states that no document sets this value (use 'note')"
        )
    if texts["section"] is not None and texts["document"] is None:
        problems.append("reference.section needs reference.document")
    if problems:
        return None, problems
    return (
        Reference(status, texts["document"], texts["section"], texts["topic"], texts["note"]),
        [],
    )


def check_entries(
    fname: str, name: str, spec: Spec, raw_entries: object, problems: list[PolicyProblem]
) -> tuple[Entry, ...]:
    def bad(msg: str, i: int | None = None) -> None:
        problems.append(PolicyProblem(fname, msg, name, i))

    if not isinstance(raw_entries, list) or not raw_entries:
        bad("needs a non-empty 'entries' list")
        return ()
    value_key = "value_fen" if spec.kind is Kind.FEN else "value"
    entries: list[Entry] = []
    prev: Entry | None = None
    prev_i = -1
    for i, raw in enumerate(raw_entries):
        if not isinstance(raw, dict):
            bad("entry must be a table { from = …, … }", i)
            continue
        unknown = sorted(set(raw) - _ENTRY_KEYS)
        if unknown:
            bad(f"unknown keys {unknown}", i)
        start = raw.get("from")
        until = raw.get("until")
        ok = True
        if isinstance(start, datetime) or not isinstance(start, date):
            bad("'from' must be a TOML date (2025-01-01)", i)
            ok = False
        if until is not None and (isinstance(until, datetime) or not isinstance(until, date)):
            bad("'until' must be a TOML date", i)
            ok = False
        ref, ref_problems = _parse_reference(raw.get("reference"))
        for problem in ref_problems:
            bad(problem, i)
            ok = False
        other = "value" if value_key == "value_fen" else "value_fen"
        if other in raw and value_key not in raw:
            bad(f"use '{value_key}' for this parameter, not '{other}'", i)
            ok = False
        elif value_key not in raw:
            bad(f"'{value_key}' is missing", i)
            ok = False
        value: ParamValue | None = None
        if value_key in raw:
            value, why = _parse_value(spec.kind, raw[value_key])
            if why is not None:
                bad(why, i)
                ok = False
            elif value is not None:
                bp = _bounds_problem(name, spec, value)
                if bp is not None:
                    bad(bp, i)
                    ok = False
        # ``ok`` already says so; the types are checked again for the type checker.
        if not ok or value is None or ref is None or not isinstance(start, date):
            continue
        e = Entry(
            start=start,
            until=until if isinstance(until, date) else None,
            value=value,
            reference=ref,
        )
        if e.until is not None and e.until < e.start:
            bad(f"'until' {e.until} is before 'from' {e.start}", i)
            continue
        if prev is not None:
            if e.start <= prev.start:
                bad(
                    f"'from' {e.start} is not after entry {prev_i}'s 'from' {prev.start}: "
                    "dates must be ascending",
                    i,
                )
                continue
            if prev.until is not None and e.start <= prev.until:
                bad(f"overlaps entry {prev_i} (in force until {prev.until})", i)
                continue
        entries.append(e)
        prev, prev_i = e, i
    return tuple(entries)
