"""Roster files: CSV (one row per member, grouped by household reference) and JSON lines
(protobuf's canonical JSON of ``hedui.v1.RosterEntry``, one entry per line). The formats
are described in docs/roster.md.

Reading a file checks every entry with the same validation the server runs, and names
every bad row with its line and field. No message repeats a cell's value: a value in the
wrong column may be an ID number.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from google.protobuf import json_format
from hedui.v1 import common_pb2 as common
from hedui.v1 import roster_pb2 as pb
from hedui.v1 import verification_pb2 as vpb

from hedui_sdk import AssetCategory, IdType, IncomeCategory, resident_id
from verifier.api.roster_translate import CLASSES_TO_PB, date_pb, entry_draft_from_pb
from verifier.api.translate import (
    ASSET_CATEGORIES_TO_PB,
    HUKOU_TO_PB,
    ID_TYPES_TO_PB,
    INCOME_CATEGORIES_TO_PB,
    PURPOSES_TO_PB,
    RELATIONS_TO_PB,
    SUPPORTERS_TO_PB,
)
from verifier.domain import identifiers as ids
from verifier.domain.errors import InvalidArgument
from verifier.domain.household import HukouNature, Purpose, Relation, SupporterStatus
from verifier.domain.roster import RosterClass, validate_entry

__all__ = [
    "CSV_COLUMNS",
    "FileEntry",
    "FileProblem",
    "RosterFile",
    "RosterFileError",
    "read_csv",
    "read_json_lines",
    "read_roster_file",
]


class RosterFileError(ValueError):
    """The file cannot be read at all (its kind, its encoding)."""


@dataclass(frozen=True, slots=True)
class FileProblem:
    line: int
    field: str
    description: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.description}"


@dataclass
class FileEntry:
    """One household read from a file, and where each of its parts was."""

    entry: pb.RosterEntry
    line: int
    member_lines: list[int] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    """CSV: entry field path → the column it came from (declared incomes and assets)."""
    problems: list[FileProblem] = field(default_factory=list)
    head: dict[str, str] = field(default_factory=dict)
    """CSV: the household's first row, which its other rows repeat or leave empty."""

    def line_of(self, path: str) -> int:
        m = re.match(r"members\[([0-9]+)\]", path)
        if m and int(m.group(1)) < len(self.member_lines):
            return self.member_lines[int(m.group(1))]
        return self.line


@dataclass
class RosterFile:
    entries: list[FileEntry]
    problems: list[FileProblem]
    """File-level problems (a header, a malformed line) and every entry's, by line."""

    @property
    def good(self) -> list[FileEntry]:
        return [e for e in self.entries if not e.problems]

    @property
    def bad(self) -> list[FileEntry]:
        return [e for e in self.entries if e.problems]


# ------------------------------------------------------------------------------ CSV
HOUSEHOLD_COLUMNS = (
    "household_ref",
    "region_code",
    "roster_class",
    "programs",
    "authorization_number",
    "case_ref",
    "hukou_nature",
    "last_check_date",
    "declared_member_count",
    *(f"declared_income_{c.value}_fen" for c in IncomeCategory),
    *(f"declared_asset_{c.value}_fen" for c in AssetCategory),
    *(f"declared_asset_{c.value}_count" for c in AssetCategory),
)
MEMBER_COLUMNS = (
    "id_type",
    "id_number",
    "name",
    "relation",
    "disability_grade",
    "serious_illness",
    "in_school",
    "able_to_work",
    "supporter",
)
CSV_COLUMNS = (*HOUSEHOLD_COLUMNS, *MEMBER_COLUMNS)
REQUIRED_COLUMNS = (
    "household_ref",
    "region_code",
    "roster_class",
    "programs",
    "authorization_number",
    "case_ref",
    "hukou_nature",
    "id_number",
    "name",
    "relation",
)
_MEMBER_FIELD_COLUMNS = {
    "id_type": "id_type",
    "id_number": "id_number",
    "name": "name",
    "relation": "relation",
    "circumstances.disability_grade": "disability_grade",
    "circumstances.serious_illness": "serious_illness",
    "circumstances.in_school": "in_school",
    "circumstances.work_capacity": "able_to_work",
    "circumstances.supporter": "supporter",
}
_INT = re.compile(r"[0-9]{1,15}", re.ASCII)
_CLASS_NAMES = ", ".join(c.value for c in RosterClass)


def _choices(enum: type[Any]) -> str:
    return ", ".join(e.value for e in enum)


class _Row:
    """One CSV row's cells by column, and what is wrong with them."""

    def __init__(self, line: int, cells: Mapping[str, str], out: list[FileProblem]) -> None:
        self.line = line
        self.cells = cells
        self._out = out

    def get(self, column: str) -> str:
        return self.cells.get(column, "")

    def bad(self, column: str, description: str) -> None:
        self._out.append(FileProblem(self.line, column, description))

    def integer(self, column: str) -> int | None:
        text = self.get(column)
        if not text:
            return None
        if not _INT.fullmatch(text):
            self.bad(column, "must be a whole number written with the digits 0-9")
            return None
        return int(text)

    def flag(self, column: str) -> bool | None:
        text = self.get(column)
        if not text:
            return None
        if text not in ("true", "false"):
            self.bad(column, "must be true, false or empty")
            return None
        return text == "true"

    def choice(self, column: str, table: Mapping[str, Any], allowed: str) -> Any:
        """The enum number of a cell's word, or None (empty, or named as bad)."""
        text = self.get(column)
        if not text:
            return None
        if text not in table:
            self.bad(column, f"must be one of {allowed}")
            return None
        return table[text]


def _member(row: _Row) -> vpb.Member:
    m = vpb.Member(id_number=row.get("id_number"), name=row.get("name"))
    id_type = row.choice(
        "id_type", {k.value: v for k, v in ID_TYPES_TO_PB.items()}, _choices(IdType)
    )
    m.id_type = common.ID_TYPE_RESIDENT_ID if id_type is None else id_type
    relation = row.choice(
        "relation", {k.value: v for k, v in RELATIONS_TO_PB.items()}, _choices(Relation)
    )
    if relation is not None:
        m.relation = relation
    c = m.circumstances
    grade = row.integer("disability_grade")
    if grade is not None:
        c.disability_grade = min(grade, 2**31 - 1)
    c.serious_illness = bool(row.flag("serious_illness"))
    c.in_school = bool(row.flag("in_school"))
    able = row.flag("able_to_work")
    if able is not None:
        c.work_capacity = common.WORK_CAPACITY_ABLE if able else common.WORK_CAPACITY_UNABLE
    supporter = row.choice(
        "supporter",
        {k.value: v for k, v in SUPPORTERS_TO_PB.items()},
        _choices(SupporterStatus),
    )
    if supporter is not None:
        c.supporter = supporter
    return m


def _household(row: _Row, fe: FileEntry) -> None:
    e = fe.entry
    e.household_ref = row.get("household_ref")
    e.region_code = row.get("region_code")
    e.authorization_number = row.get("authorization_number")
    e.case_ref = row.get("case_ref")
    cls = row.choice("roster_class", {c.value: v for c, v in CLASSES_TO_PB.items()}, _CLASS_NAMES)
    if cls is not None:
        e.roster_class = cls
    programs = {p.value: v for p, v in PURPOSES_TO_PB.items()}
    for name in (p.strip(" ") for p in row.get("programs").split(";") if p.strip(" ")):
        if name in programs:
            e.programs.append(programs[name])
        else:
            row.bad("programs", f"each program must be one of {_choices(Purpose)}")
    hukou = row.choice(
        "hukou_nature", {k.value: v for k, v in HUKOU_TO_PB.items()}, _choices(HukouNature)
    )
    if hukou is not None:
        e.hukou_nature = hukou
    if row.get("last_check_date"):
        found: list[Any] = []
        day = ids.check_date(row.get("last_check_date"), "last_check_date", found)
        if day is None:
            row.bad("last_check_date", "must be a date YYYY-MM-DD")
        else:
            e.last_check_date.CopyFrom(date_pb(day))
    _declaration(row, fe)


def _declaration(row: _Row, fe: FileEntry) -> None:
    columns = [c for c in HOUSEHOLD_COLUMNS if c.startswith("declared_") and row.get(c)]
    if not columns:
        return
    d = fe.entry.declaration
    d.SetInParent()
    count = row.integer("declared_member_count")
    if count is not None:
        d.member_count = min(count, 2**31 - 1)
    for cat in IncomeCategory:
        column = f"declared_income_{cat.value}_fen"
        fen = row.integer(column)
        if fen is not None:
            fe.columns[f"declaration.incomes[{len(d.incomes)}]"] = column
            d.incomes.append(
                vpb.DeclaredIncome(category=INCOME_CATEGORIES_TO_PB[cat], monthly_fen=fen)
            )
    for acat in AssetCategory:
        value_column = f"declared_asset_{acat.value}_fen"
        count_column = f"declared_asset_{acat.value}_count"
        value, n = row.integer(value_column), row.integer(count_column)
        if value is not None or n is not None:
            fe.columns[f"declaration.assets[{len(d.assets)}]"] = value_column
            d.assets.append(
                vpb.DeclaredAsset(
                    category=ASSET_CATEGORIES_TO_PB[acat],
                    value_fen=value or 0,
                    count=min(n or 0, 2**31 - 1),
                )
            )


def _csv_field(fe: FileEntry, path: str) -> str:
    """The column a validation path names in a CSV file."""
    m = re.fullmatch(r"members\[[0-9]+\]\.(.+)", path)
    if m and m.group(1) in _MEMBER_FIELD_COLUMNS:
        return _MEMBER_FIELD_COLUMNS[m.group(1)]
    if path.startswith("programs"):
        return "programs"
    if path == "declaration.member_count":
        return "declared_member_count"
    for prefix, column in fe.columns.items():
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            return column
    return path


def read_csv(text: str) -> RosterFile:
    """Households from CSV text (see docs/roster.md), every problem named by line."""
    problems: list[FileProblem] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        header = [h.strip(" ") for h in next(reader, [])]
    except csv.Error:
        return RosterFile([], [FileProblem(1, "header", "is not well-formed CSV")])
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    problems += [FileProblem(1, "header", f"unknown column {h[:40]!r}") for h in unknown[:20]]
    problems += [FileProblem(1, c, "required column is missing") for c in missing]
    if len(set(header)) != len(header):
        problems.append(FileProblem(1, "header", "a column is named twice"))
    if problems:
        return RosterFile([], problems)
    entries: list[FileEntry] = []
    first: dict[str, int] = {}
    current: FileEntry | None = None
    current_ref = ""
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader, None)
        except csv.Error:
            problems.append(FileProblem(line, "row", "is not well-formed CSV (a quote?)"))
            break
        if cells is None:
            break
        if not any(c.strip(" ") for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(
                FileProblem(line, "row", f"has {len(cells)} cells; the header has {len(header)}")
            )
            continue
        own: list[FileProblem] = []
        row = _Row(line, dict(zip(header, cells, strict=True)), own)
        ref = row.get("household_ref")
        if ref and ref != current_ref:
            if ref in first:
                own.append(
                    FileProblem(
                        line,
                        "household_ref",
                        f"the household's rows must be together (its first row is line "
                        f"{first[ref]})",
                    )
                )
                problems += own
                continue
            first[ref] = line
            current_ref = ref
            current = FileEntry(pb.RosterEntry(), line, head=dict(row.cells))
            _household(row, current)
            entries.append(current)
        elif current is None:
            own.append(
                FileProblem(line, "household_ref", "must be given on a household's first row")
            )
            problems += own
            continue
        else:
            for column in HOUSEHOLD_COLUMNS:
                value = row.get(column)
                if value and value != current.head.get(column, ""):
                    row.bad(column, f"differs from line {current.line} (the household's first row)")
        current.member_lines.append(line)
        current.entry.members.append(_member(row))
        current.problems += own
    return _checked(entries, problems, csv_names=True)


# ------------------------------------------------------------------------ JSON lines
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _safe_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name, re.ASCII) or resident_id.appears_in(
        name
    ):
        return "(a field name)"
    return _snake(name)


def _parse_error(message: str) -> tuple[str, str]:
    """(field, description) of a json_format error, without the values it quotes."""
    path = [_safe_name(n) for n in re.findall(r"Failed to parse (\w+) field", message)]
    unknown = re.search(r'has no field named "([^"]*)"', message)
    if unknown:
        return ".".join([*path, _safe_name(unknown.group(1))]), "is not a field of RosterEntry"
    where = ".".join(path) or "entry"
    if "Invalid enum value" in message:
        return where, "is not a value of its enum"
    return where, "has the wrong type or an impossible value"


def _floats(value: Any, path: str) -> str | None:
    if isinstance(value, float):
        return path
    if isinstance(value, dict):
        for k, v in value.items():
            found = _floats(v, f"{path}.{_safe_name(str(k))}" if path else _safe_name(str(k)))
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _floats(v, f"{path}[{i}]")
            if found:
                return found
    return None


def read_json_lines(text: str) -> RosterFile:
    """Entries from JSON lines: each non-blank line one ``RosterEntry`` in protobuf's
    canonical JSON (field names in lowerCamelCase or as in the .proto)."""
    problems: list[FileProblem] = []
    entries: list[FileEntry] = []
    for n, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(FileProblem(n, "line", f"is not JSON ({exc.msg}, column {exc.colno})"))
            continue
        if not isinstance(doc, dict):
            problems.append(FileProblem(n, "line", "must be one JSON object"))
            continue
        fe = FileEntry(pb.RosterEntry(), n)
        entries.append(fe)
        decimal = _floats(doc, "")
        if decimal is not None:
            fe.problems.append(
                FileProblem(n, decimal, "must be a whole number (amounts are integer fen)")
            )
            continue
        try:
            json_format.ParseDict(doc, fe.entry)
        except json_format.ParseError as exc:
            where, why = _parse_error(str(exc))
            fe.problems.append(FileProblem(n, where, why))
    return _checked(entries, problems, csv_names=False)


# ---------------------------------------------------------------------------- checks
def _checked(
    entries: list[FileEntry], problems: list[FileProblem], *, csv_names: bool
) -> RosterFile:
    """Each entry validated as the server will; repeated households named."""
    today = date.today()
    seen: dict[tuple[str, str], int] = {}
    for fe in entries:
        if fe.problems and not csv_names:
            continue  # a line that did not parse has nothing more to say
        named = {p.field for p in fe.problems}
        try:
            validate_entry(entry_draft_from_pb(fe.entry), today=today)
        except InvalidArgument as exc:
            for v in exc.violations:
                column = _csv_field(fe, v.field) if csv_names else v.field
                if column not in named:
                    fe.problems.append(FileProblem(fe.line_of(v.field), column, v.description))
        key = (fe.entry.region_code, fe.entry.household_ref)
        if key in seen and fe.entry.household_ref:
            fe.problems.append(
                FileProblem(fe.line, "household_ref", f"repeats the household of line {seen[key]}")
            )
        seen.setdefault(key, fe.line)
    everything = problems + [p for fe in entries for p in fe.problems]
    return RosterFile(entries, sorted(everything, key=lambda p: p.line))


def read_roster_file(name: str, data: bytes) -> RosterFile:
    """A roster file by its name's extension: ``.csv``, or ``.jsonl`` / ``.ndjson``."""
    lower = name.lower()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RosterFileError(f"line {line}: the file is not UTF-8 text") from None
    if lower.endswith(".csv"):
        return read_csv(text)
    if lower.endswith((".jsonl", ".ndjson")):
        return read_json_lines(text)
    raise RosterFileError("a roster file is .csv or .jsonl (JSON lines)")


def chunks(entries: Sequence[FileEntry], size: int) -> list[list[FileEntry]]:
    return [list(entries[i : i + size]) for i in range(0, len(entries), size)]
