"""A validated policy: its dated parameter entries, where each value comes from, and the
problems that make a policy file unusable. The file format is in :mod:`verifier.policy.params`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum, StrEnum

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
