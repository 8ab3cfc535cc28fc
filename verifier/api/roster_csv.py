"""Roster CSV files: one row per member, grouped by household reference (docs/roster.md).
No message repeats a cell's value: a value in the wrong column may be an ID number."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Any

from hedui.v1 import common_pb2 as common
from hedui.v1 import roster_pb2 as pb
from hedui.v1 import verification_pb2 as vpb

from hedui_sdk import AssetCategory, IdType, IncomeCategory
from verifier.api.roster_file_model import FileEntry, FileProblem, RosterFile, checked
from verifier.api.roster_translate import CLASSES_TO_PB, date_pb
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
from verifier.domain.household import HukouNature, Purpose, Relation, SupporterStatus
from verifier.domain.roster import RosterClass

__all__ = ["CSV_COLUMNS", "HOUSEHOLD_COLUMNS", "MEMBER_COLUMNS", "REQUIRED_COLUMNS", "read_csv"]

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
    return checked(entries, problems, column_of=_csv_field)
