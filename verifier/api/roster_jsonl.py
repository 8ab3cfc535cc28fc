"""Roster JSON lines files: protobuf's canonical JSON of ``hedui.v1.RosterEntry``, one
entry per line (docs/roster.md). No message repeats a value: it may be an ID number."""

from __future__ import annotations

import json
import re
from typing import Any

from google.protobuf import json_format
from hedui.v1 import roster_pb2 as pb

from hedui_sdk import resident_id
from verifier.api.roster_file_model import FileEntry, FileProblem, RosterFile, checked

__all__ = ["read_json_lines"]


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
    return checked(entries, problems)
