"""A roster file as read: its households, each with where its parts were, and every
problem by line; and the check every entry goes through, whatever the file's format."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from hedui.v1 import roster_pb2 as pb

from verifier.api.roster_translate import entry_draft_from_pb
from verifier.domain.errors import InvalidArgument
from verifier.domain.roster import validate_entry

__all__ = ["FileEntry", "FileProblem", "RosterFile", "RosterFileError", "checked"]


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


def checked(
    entries: list[FileEntry],
    problems: list[FileProblem],
    *,
    column_of: Callable[[FileEntry, str], str] | None = None,
) -> RosterFile:
    """Each entry validated as the server will; repeated households named. ``column_of``
    names a validation path as the file does (a CSV column); without it, the path."""
    today = date.today()
    seen: dict[tuple[str, str], int] = {}
    for fe in entries:
        if fe.problems and column_of is None:
            continue  # a line that did not parse has nothing more to say
        named = {p.field for p in fe.problems}
        try:
            validate_entry(entry_draft_from_pb(fe.entry), today=today)
        except InvalidArgument as exc:
            for v in exc.violations:
                column = column_of(fe, v.field) if column_of else v.field
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
