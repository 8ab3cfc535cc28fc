"""Roster files: CSV (one row per member, grouped by household reference) and JSON lines
(protobuf's canonical JSON of ``hedui.v1.RosterEntry``, one entry per line). The formats
are described in docs/roster.md.

Reading a file checks every entry with the same validation the server runs, and names
every bad row with its line and field. No message repeats a cell's value: a value in the
wrong column may be an ID number.
"""

from __future__ import annotations

from collections.abc import Sequence

from verifier.api.roster_csv import (
    CSV_COLUMNS,
    HOUSEHOLD_COLUMNS,
    MEMBER_COLUMNS,
    REQUIRED_COLUMNS,
    read_csv,
)
from verifier.api.roster_file_model import FileEntry, FileProblem, RosterFile, RosterFileError
from verifier.api.roster_jsonl import read_json_lines

__all__ = [
    "CSV_COLUMNS",
    "HOUSEHOLD_COLUMNS",
    "MEMBER_COLUMNS",
    "REQUIRED_COLUMNS",
    "FileEntry",
    "FileProblem",
    "RosterFile",
    "RosterFileError",
    "chunks",
    "read_csv",
    "read_json_lines",
    "read_roster_file",
]


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
