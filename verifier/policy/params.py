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

import functools
import hashlib
import tomllib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from verifier.domain.alerts.reasons import ALWAYS_RAISED
from verifier.policy.checking import check_entries
from verifier.policy.policies import (
    CITED,
    REGION_CODE,
    Entry,
    Kind,
    Parameter,
    ParameterNotInForceError,
    ParamValue,
    Policy,
    PolicyError,
    PolicyProblem,
    Reference,
    Spec,
    Status,
)
from verifier.policy.specs import (
    ALERT_LEVELS,
    ALERT_PARTS,
    BAND_PARTS,
    BASES,
    LINSHI_BANDS,
    RANGE_PAIRS,
    RECHECK_CLASSES,
    SPECS,
    TIE_RULES,
)

__all__ = [
    "ALERT_LEVELS",
    "ALERT_PARTS",
    "BAND_PARTS",
    "BASES",
    "CITED",
    "LINSHI_BANDS",
    "RANGE_PAIRS",
    "RECHECK_CLASSES",
    "REGIONS_DIR",
    "REGION_CODE",
    "SPECS",
    "TIE_RULES",
    "Entry",
    "Kind",
    "ParamValue",
    "Parameter",
    "ParameterNotInForceError",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "Reference",
    "Spec",
    "Status",
    "check_policy_bytes",
    "check_policy_file",
    "load_policy",
    "load_policy_file",
    "packaged_regions",
]


def _value_at(param: Parameter | None, day: date) -> Decimal | None:
    if param is None:
        return None
    e = param.at(day)
    if e is None or not isinstance(e.value, int | Decimal) or isinstance(e.value, bool):
        return None
    return Decimal(e.value)


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
        entries = check_entries(fname, name, spec, body.get("entries"), problems)
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


@functools.lru_cache(maxsize=64)
def policy_or_none(region: str) -> Policy | None:
    """The packaged policy for ``region``, loaded once, or None where it has none (or an
    invalid one): for the background jobs that read one parameter of many regions and must
    not fail a round for a region without a file."""
    try:
        return load_policy(region)
    except PolicyError:
        return None
