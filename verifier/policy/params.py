"""Policy files: per-region parameters as dated series, each entry with its legal reference.

A policy file is TOML (read with :mod:`tomllib`)::

    [policy]
    id = "370322"            # stable id recorded in reports
    region = "370322"        # GB/T 2260 code the file serves
    version = "2025.1"
    name = "山东省淄博市高青县"

    [parameters.linshi_illness_min_multiplier]
    description = "临时救助：重特大疾病档次下限（月低保标准的倍数）"
    entries = [
      { from = 2024-01-01, value = "3", reference = { status = "seed",
        document = "高政字〔2021〕27号", topic = "临时救助 重特大疾病档次" } },
    ]

An entry is in force from ``from`` until the next entry's ``from`` (or its own optional
``until``, inclusive). Money is ``value_fen`` (an integer); every other value is
``value``: a decimal *string* for multipliers, ratios and areas, an integer, a boolean, a
word from a fixed list or a list. Floats are refused everywhere: a float cannot carry
money or a ratio exactly.

Every entry's ``reference`` is a table saying where the value comes from (see
:class:`Reference`): ``status`` is ``seed`` (one of the seed documents hedui was built
from), ``regional`` (another local document), ``national`` (a national rule), ``convention``
(how hedui computes where no document speaks, e.g. a fraction of a fen) or ``example`` (no
document states it: a placeholder the region must replace). Every status but ``example``
and ``convention`` names its ``document`` (文号 or title) and, when known, its ``section``.
Documentation for operators: ``docs/policy-files.md``.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from hedui_sdk import AssetCategory, IncomeCategory, SourceKind
from verifier.domain.alerts.reasons import ALERT_REASONS, ALWAYS_RAISED

REGION_CODE = re.compile(r"[1-9][0-9]{5}")
"""A GB/T 2260 code: six ASCII digits (full match; ``\\d`` and ``isdigit`` take any script's)."""

ParamValue = int | Decimal | bool | str | tuple[str, ...] | tuple[int, ...]


class Kind(Enum):
    FEN = "fen"
    MULTIPLIER = "multiplier"
    """A decimal string ≥ 1 (times a standard)."""
    RATIO = "ratio"
    """A decimal string in [0, 1]."""
    PERCENT = "percent"
    """A decimal string in [0, 100]."""
    DECIMAL = "decimal"
    """A non-negative decimal string (areas)."""
    INT = "int"
    BOOL = "bool"
    CHOICE = "choice"
    """One word from ``Spec.choices``."""
    STR_LIST = "str_list"
    INT_LIST = "int_list"


@dataclass(frozen=True, slots=True)
class Spec:
    kind: Kind
    required: bool = True
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    floor_reason: str = ""
    choices: frozenset[str] | frozenset[int] | None = None


_D = Decimal
_ASSET_NAMES = frozenset(c.value for c in AssetCategory)
_SOURCE_NAMES = frozenset(s.value for s in SourceKind)
_GRADES: frozenset[int] = frozenset({1, 2, 3, 4})
BASES: frozenset[str] = frozenset({"urban", "household"})
"""What a 临时救助 band multiplies: the urban 低保 standard, or the household's own."""
TIE_RULES: frozenset[str] = frozenset({"family", "exact"})
"""How a comparison settles a fraction of a fen: ``family`` gives it to the family (the
income figure is taken down, a limit the family must stay under up, a figure it must
reach down, each to the whole fen); ``exact`` compares the exact rationals."""
LINSHI_BANDS: tuple[str, ...] = ("emergency", "expense", "illness", "schooling")
ALERT_LEVELS: tuple[str, ...] = ("high", "medium", "low")
"""Risk levels of an alert (监测预警): ``alert_<level>_risk_reasons`` and
``alert_<level>_risk_working_days``."""
RECHECK_CLASSES: tuple[str, ...] = (
    "dibao_a", "dibao_b", "dibao_c", "tekun", "dibao_bianyuan", "linshi", "yinbing_zhipin",
)  # fmt: skip
"""Roster classes a re-check cycle may be set for (``recheck_months_<class>``)."""

SPECS: Mapping[str, Spec] = {
    "dibao_standard_urban": Spec(Kind.FEN, minimum=_D(1)),
    "dibao_standard_rural": Spec(Kind.FEN, minimum=_D(1)),
    # 《社会救助暂行办法》及民发〔2021〕43号: 特困人员基本生活标准不低于城市低保标准的1.5倍、
    # 农村低保标准的1.3倍. The floor is the seed documents', not a region's choice.
    "tekun_multiplier_urban": Spec(
        Kind.MULTIPLIER,
        minimum=_D("1.5"),
        floor_reason="特困基本生活标准不得低于城市低保标准 1.5 倍",
    ),
    "tekun_multiplier_rural": Spec(
        Kind.MULTIPLIER,
        minimum=_D("1.3"),
        floor_reason="特困基本生活标准不得低于农村低保标准 1.3 倍",
    ),
    "tekun_elderly_age": Spec(Kind.INT, minimum=_D(0), maximum=_D(120)),
    "tekun_minor_age": Spec(Kind.INT, minimum=_D(0), maximum=_D(18)),
    "tekun_disability_grades": Spec(Kind.INT_LIST, choices=_GRADES),
    "bianyuan_multiplier": Spec(Kind.MULTIPLIER),
    "taper_ceiling_multiplier": Spec(Kind.MULTIPLIER),
    # 渐退 lasts a range of months the caseworker chooses within (绩溪: 1–6).
    "taper_min_months": Spec(Kind.INT, minimum=_D(1), maximum=_D(6)),
    "taper_max_months": Spec(Kind.INT, minimum=_D(1), maximum=_D(6)),
    "financial_asset_categories": Spec(Kind.STR_LIST, choices=_ASSET_NAMES),
    "dibao_financial_asset_months": Spec(Kind.INT, minimum=_D(0)),
    "bianyuan_financial_asset_months": Spec(Kind.INT, minimum=_D(0)),
    "real_estate_max_count": Spec(Kind.INT, minimum=_D(0)),
    "real_estate_max_area_per_capita_m2": Spec(Kind.DECIMAL),
    "vehicle_max_count": Spec(Kind.INT, minimum=_D(0)),
    "vehicle_exempt_kinds": Spec(Kind.STR_LIST),
    "business_max_value_fen": Spec(Kind.FEN, minimum=_D(0)),
    "single_person_disability_grades": Spec(Kind.INT_LIST, choices=_GRADES),
    "single_person_serious_illness": Spec(Kind.BOOL),
    "single_person_min_age": Spec(Kind.INT, minimum=_D(0), maximum=_D(120)),
    "single_person_household_multiplier": Spec(Kind.MULTIPLIER),
    # 临时救助 bands exist only where a region's own document states them; without one
    # the amount is set under the provincial and national rule (国发〔2014〕47号).
    **{
        f"linshi_{band}_{end}_multiplier": Spec(Kind.MULTIPLIER, required=False)
        for band in LINSHI_BANDS
        for end in ("min", "max")
    },
    **{
        f"linshi_{band}_base": Spec(Kind.CHOICE, required=False, choices=BASES)
        for band in LINSHI_BANDS
    },
    "linshi_case_by_case": Spec(Kind.BOOL, required=False),
    "linshi_expense_income_multiplier": Spec(Kind.MULTIPLIER),
    "yinbing_income_multiplier": Spec(Kind.MULTIPLIER),
    "yinbing_medical_expense_ratio": Spec(Kind.RATIO),
    "discrepancy_tolerance_fen": Spec(Kind.FEN, minimum=_D(0)),
    "discrepancy_tolerance_percent": Spec(Kind.PERCENT),
    "required_sources": Spec(Kind.STR_LIST, choices=_SOURCE_NAMES),
    "fen_tie_rule": Spec(Kind.CHOICE, choices=TIE_RULES),
    # Time limits on a whole check (verifier.domain.time_limits): optional, so a policy
    # file written before them still loads; a region without them gives no due date.
    "check_due_working_days": Spec(Kind.INT, required=False, minimum=_D(1), maximum=_D(60)),
    "urgent_due_hours": Spec(Kind.INT, required=False, minimum=_D(1), maximum=_D(168)),
    **{
        f"discrepancy_tolerance_fen_{c.value}": Spec(Kind.FEN, required=False, minimum=_D(0))
        for c in (*IncomeCategory, *AssetCategory)
    },
    **{
        f"discrepancy_tolerance_percent_{c.value}": Spec(Kind.PERCENT, required=False)
        for c in (*IncomeCategory, *AssetCategory)
    },
    # 动态管理: months between re-checks of a roster household, per class. Optional: a
    # class without one is never re-checked on a schedule (临时救助 is usually one-off).
    **{
        f"recheck_months_{c}": Spec(Kind.INT, required=False, minimum=_D(1), maximum=_D(36))
        for c in RECHECK_CLASSES
    },
    # 监测预警 (verifier.service.monitoring.rules): the reason codes of each risk level and
    # the working days each level gives staff to act. Optional, but all six together.
    **{
        f"alert_{level}_risk_reasons": Spec(Kind.STR_LIST, required=False, choices=ALERT_REASONS)
        for level in ALERT_LEVELS
    },
    **{
        f"alert_{level}_risk_working_days": Spec(
            Kind.INT, required=False, minimum=_D(1), maximum=_D(60)
        )
        for level in ALERT_LEVELS
    },
}

RANGE_PAIRS: tuple[tuple[str, str], ...] = (
    *((f"linshi_{b}_min_multiplier", f"linshi_{b}_max_multiplier") for b in LINSHI_BANDS),
    ("bianyuan_multiplier", "taper_ceiling_multiplier"),
    ("taper_min_months", "taper_max_months"),
)
"""(lower, upper) pairs that must stay ordered on every date either changes."""

BAND_PARTS: Mapping[str, tuple[str, ...]] = {
    b: (f"linshi_{b}_min_multiplier", f"linshi_{b}_max_multiplier", f"linshi_{b}_base")
    for b in LINSHI_BANDS
}
"""A 临时救助 band is its range and the standard it multiplies: all three, or none."""


class Status(StrEnum):
    """Where a parameter value comes from."""

    SEED = "seed"
    """Stated by one of the seed documents (the county's own, or its province's)."""
    REGIONAL = "regional"
    """Stated by another local document the region cites (e.g. the city's standard notice)."""
    NATIONAL = "national"
    """Stated by a national law or rule."""
    CONVENTION = "convention"
    """How hedui computes where no document speaks (a fraction of a fen); not a legal value."""
    EXAMPLE = "example"
    """No document states it: a placeholder the region must replace before going live."""


CITED = frozenset({Status.SEED, Status.REGIONAL, Status.NATIONAL})
"""Statuses whose reference must name the document."""


@dataclass(frozen=True, slots=True)
class Reference:
    """Where one entry's value comes from: a document (文号), its section when known."""

    status: Status
    document: str | None = None
    section: str | None = None
    topic: str | None = None
    note: str | None = None

    @property
    def is_example(self) -> bool:
        return self.status is Status.EXAMPLE

    def cite(self) -> str:
        """A short Chinese citation: ``高政字〔2021〕27号 第五条`` or ``示例值（…）``."""
        if self.status is Status.EXAMPLE:
            return "示例值（无文件规定，需由地区按本地正式文件设定）"
        if self.status is Status.CONVENTION:
            return "核对计算约定（非法定数值）"
        assert self.document is not None
        return f"{self.document} {self.section}" if self.section else self.document

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "document": self.document,
            "section": self.section,
            "topic": self.topic,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One thing wrong with a policy file, naming where it is."""

    file: str
    message: str
    parameter: str | None = None
    entry: int | None = None

    @property
    def place(self) -> str:
        where = self.file
        if self.parameter is not None:
            where += f": parameters.{self.parameter}"
            if self.entry is not None:
                where += f".entries[{self.entry}]"
        return where

    def __str__(self) -> str:
        return f"{self.place}: {self.message}"


class PolicyError(Exception):
    """A policy cannot be used; ``problems`` says where and why."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class ParameterNotInForceError(LookupError):
    """A parameter has no entry in force on the date asked (a gap in the policy file)."""


@dataclass(frozen=True, slots=True)
class Entry:
    start: date
    until: date | None
    value: ParamValue
    reference: Reference

    def in_force(self, day: date) -> bool:
        return self.start <= day and (self.until is None or day <= self.until)


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    kind: Kind
    description: str
    entries: tuple[Entry, ...]

    def at(self, day: date) -> Entry | None:
        """The entry in force on ``day`` (entries are ascending and do not overlap)."""
        found: Entry | None = None
        for e in self.entries:
            if e.start <= day:
                found = e
        if found is not None and found.until is not None and day > found.until:
            return None
        return found


@dataclass(frozen=True)
class Policy:
    """A region's validated policy. ``sha256`` is over the file's exact bytes."""

    id: str
    region: str
    version: str
    name: str
    sha256: str
    file: str
    parameters: Mapping[str, Parameter]

    def entry(self, name: str, day: date) -> Entry:
        param = self.parameters.get(name)
        e = param.at(day) if param is not None else None
        if e is None:
            raise ParameterNotInForceError(
                f"{self.file}: parameter {name} has no entry in force on {day}"
            )
        return e

    def has(self, name: str, day: date) -> bool:
        param = self.parameters.get(name)
        return param is not None and param.at(day) is not None

    def examples_in_force(self, day: date) -> list[str]:
        """The parameters whose entry in force on ``day`` is an example value."""
        return sorted(
            name
            for name, param in self.parameters.items()
            if (e := param.at(day)) is not None and e.reference.is_example
        )

    def serves(self, region: str) -> bool:
        """True when this policy covers ``region``: same code, or a city/province above it."""
        code = self.region.rstrip("0")
        if len(code) % 2:
            code += "0"
        return region.startswith(code)


# --------------------------------------------------------------------------- checking


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_value(kind: Kind, raw: object) -> tuple[ParamValue | None, str | None]:
    """(value, None) or (None, what is wrong)."""
    if isinstance(raw, float):
        if kind is Kind.FEN:
            return None, f"float money {raw!r}: money is integer fen (value_fen = 98000)"
        return None, f'float {raw!r}: write decimals as strings (value = "{raw}")'
    if kind is Kind.FEN or kind is Kind.INT:
        if not _is_int(raw):
            return None, f"expected an integer, got {type(raw).__name__}"
        assert isinstance(raw, int)
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


def _check_entries(
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
        if not ok or value is None:
            continue
        assert isinstance(start, date)
        assert ref is not None
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


def _value_at(param: Parameter | None, day: date) -> Decimal | None:
    if param is None:
        return None
    e = param.at(day)
    if e is None or not isinstance(e.value, int | Decimal) or isinstance(e.value, bool):
        return None
    return Decimal(e.value)


ALERT_PARTS: tuple[str, ...] = (
    *(f"alert_{level}_risk_reasons" for level in ALERT_LEVELS),
    *(f"alert_{level}_risk_working_days" for level in ALERT_LEVELS),
)


def _alert_problems(fname: str, params: Mapping[str, Parameter]) -> list[PolicyProblem]:
    """The alert parameters go together; on every date, a reason has at most one level,
    and the reasons that always raise an alert (warnings, re-authorization) have one."""
    present = [p for p in ALERT_PARTS if p in params]
    if not present:
        return []
    if len(present) != len(ALERT_PARTS):
        absent = [p for p in ALERT_PARTS if p not in params]
        return [
            PolicyProblem(
                fname,
                f"alert parameters go together: {', '.join(ALERT_PARTS)} (missing "
                f"{', '.join(absent)})",
                absent[0],
            )
        ]
    out: list[PolicyProblem] = []
    lists = [f"alert_{level}_risk_reasons" for level in ALERT_LEVELS]
    for day in sorted({e.start for p in ALERT_PARTS for e in params[p].entries}):
        level_of: dict[str, str] = {}
        for name in lists:
            entry = params[name].at(day)
            reasons = entry.value if entry is not None and isinstance(entry.value, tuple) else ()
            for reason in reasons:
                other = level_of.setdefault(str(reason), name)
                if other != name:
                    out.append(PolicyProblem(fname, f"on {day} {reason} is also in {other}", name))
        missing = sorted(ALWAYS_RAISED - level_of.keys())
        if missing:
            out.append(
                PolicyProblem(
                    fname,
                    f"on {day} these reasons always raise an alert and need a risk level: "
                    f"{', '.join(missing)}",
                    lists[-1],
                )
            )
    return out


def check_policy_bytes(data: bytes, fname: str) -> tuple[list[PolicyProblem], Policy | None]:
    """Validate policy file bytes; the :class:`Policy` is returned only when there is no problem."""
    problems: list[PolicyProblem] = []
    try:
        doc: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return [PolicyProblem(fname, f"not UTF-8: {exc}")], None
    except tomllib.TOMLDecodeError as exc:
        return [PolicyProblem(fname, f"not valid TOML: {exc}")], None

    head = doc.get("policy")
    meta: dict[str, str] = {}
    if not isinstance(head, dict):
        problems.append(PolicyProblem(fname, "missing [policy] table (id, region, version, name)"))
    else:
        for key in ("id", "region", "version", "name"):
            v = head.get(key)
            if not isinstance(v, str) or not v.strip():
                problems.append(PolicyProblem(fname, f"[policy] {key} must be a non-empty string"))
            elif not v.isprintable():
                problems.append(PolicyProblem(fname, f"[policy] {key} must be one line of text"))
            else:
                meta[key] = v.strip()
        region = head.get("region")
        # The code as written, not trimmed: a region is exactly six ASCII digits.
        if isinstance(region, str) and meta.get("region") and not REGION_CODE.fullmatch(region):
            problems.append(
                PolicyProblem(fname, f"[policy] region {region[:12]!r} is not a 6-digit code")
            )
    for key in sorted(set(doc) - {"policy", "parameters"}):
        problems.append(PolicyProblem(fname, f"unknown top-level table {key!r}"))

    raw_params = doc.get("parameters", {})
    if not isinstance(raw_params, dict):
        problems.append(PolicyProblem(fname, "[parameters] must be a table"))
        raw_params = {}
    params: dict[str, Parameter] = {}
    for name in sorted(raw_params):
        spec = SPECS.get(name)
        if spec is None:
            problems.append(PolicyProblem(fname, "unknown parameter (misspelt?)", name))
            continue
        body = raw_params[name]
        if not isinstance(body, dict):
            problems.append(PolicyProblem(fname, "must be a table with 'entries'", name))
            continue
        extra = sorted(set(body) - {"description", "entries"})
        if extra:
            problems.append(PolicyProblem(fname, f"unknown keys {extra}", name))
        entries = _check_entries(fname, name, spec, body.get("entries"), problems)
        desc = body.get("description", "")
        params[name] = Parameter(name, spec.kind, desc if isinstance(desc, str) else "", entries)
    for name, spec in SPECS.items():
        if spec.required and name not in raw_params:
            problems.append(PolicyProblem(fname, "required parameter is missing", name))

    for lo_name, hi_name in RANGE_PAIRS:
        lo_p, hi_p = params.get(lo_name), params.get(hi_name)
        if (lo_p is None) != (hi_p is None):
            missing = hi_name if hi_p is None else lo_name
            problems.append(PolicyProblem(fname, f"needs its pair {lo_name}/{hi_name}", missing))
            continue
        if lo_p is None or hi_p is None:
            continue
        days = sorted({e.start for e in lo_p.entries} | {e.start for e in hi_p.entries})
        for day in days:
            lo, hi = _value_at(lo_p, day), _value_at(hi_p, day)
            if lo is not None and hi is not None and lo > hi:
                problems.append(
                    PolicyProblem(
                        fname, f"on {day} {lo_name} = {lo} exceeds {hi_name} = {hi}", hi_name
                    )
                )

    for band, parts in BAND_PARTS.items():
        present = [p for p in parts if p in params]
        if present and len(present) != len(parts):
            absent = [p for p in parts if p not in params]
            problems.append(
                PolicyProblem(
                    fname,
                    f"临时救助 band {band!r} needs {', '.join(parts)} together "
                    f"(missing {', '.join(absent)})",
                    absent[0],
                )
            )
    problems.extend(_alert_problems(fname, params))

    if problems:
        return problems, None
    policy = Policy(
        id=meta["id"],
        region=meta["region"],
        version=meta["version"],
        name=meta["name"],
        sha256=hashlib.sha256(data).hexdigest(),
        file=fname,
        parameters=params,
    )
    return [], policy


def check_policy_file(path: str | Path) -> list[PolicyProblem]:
    """Every problem in the policy file at ``path`` (empty when it is usable)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        return [PolicyProblem(str(p), f"cannot read: {exc.strerror or exc}")]
    return check_policy_bytes(data, p.name)[0]


def load_policy_file(path: str | Path) -> Policy:
    """Load and validate one policy file; raises :class:`PolicyError` naming every problem."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise PolicyError([PolicyProblem(str(p), f"cannot read: {exc.strerror or exc}")]) from exc
    problems, policy = check_policy_bytes(data, p.name)
    if policy is None:
        raise PolicyError(problems)
    return policy


REGIONS_DIR = Path(__file__).with_name("regions")


def load_policy(region: str) -> Policy:
    """The packaged policy for ``region``: the county's own file, else its city's, else province's.

    Raises :class:`PolicyError` when none exists or the file is invalid.
    """
    if not REGION_CODE.fullmatch(region):
        raise PolicyError(
            [PolicyProblem("region", f"{region[:12]!r}: region must be a 6-digit code")]
        )
    for code in dict.fromkeys((region, region[:4] + "00", region[:2] + "0000")):
        path = REGIONS_DIR / f"{code}.toml"
        if path.is_file():
            policy = load_policy_file(path)
            if policy.region != code:
                raise PolicyError(
                    [
                        PolicyProblem(
                            path.name,
                            f"[policy] region {policy.region} does not match the file name",
                        )
                    ]
                )
            return policy
    raise PolicyError([PolicyProblem(f"{region}.toml", "no policy file for this region")])


def packaged_regions() -> tuple[str, ...]:
    """The region codes that have a packaged policy file, ascending."""
    return tuple(
        sorted(p.stem for p in REGIONS_DIR.glob("*.toml") if REGION_CODE.fullmatch(p.stem))
    )
