"""Parsing and checking the body of a protocol v1 query, as a department gateway would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from hedui_sdk import resident_id
from hedui_sdk.contract import IdType, SourceKind

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_REGION = re.compile(r"[0-9]{6}", re.ASCII)


class InvalidQueryError(ValueError):
    """The body breaks the protocol. ``code`` is the protocol error code; no personal data."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class GatewayQuery:
    """A checked query: the subject, the window, the region and purposes."""

    source: SourceKind
    id_type: IdType
    id_number: str
    name: str
    start: date
    end: date
    region: str
    purposes: tuple[str, ...]

    def __repr__(self) -> str:
        return f"GatewayQuery(source={self.source.value}, region={self.region})"


def parse_query(body: Any, source: SourceKind) -> GatewayQuery:
    """Check a decoded JSON body against protocol v1; raise :class:`InvalidQueryError`."""
    if not isinstance(body, dict):
        raise InvalidQueryError("INVALID_REQUEST", "body must be a JSON object")
    if body.get("source") != source.value:
        raise InvalidQueryError("SOURCE_MISMATCH", "body.source must name this department")
    subject = _object(body, "subject")
    try:
        id_type = IdType(_text(subject, "id_type", "subject.id_type"))
    except ValueError:
        raise InvalidQueryError("INVALID_REQUEST", "subject.id_type is not a known type") from None
    id_number = _text(subject, "id_number", "subject.id_number")
    if id_type is IdType.RESIDENT_ID and resident_id.problems(id_number):
        raise InvalidQueryError("INVALID_ID_NUMBER", "subject.id_number is not a valid resident ID")
    name = _text(subject, "name", "subject.name")
    window = _object(body, "window")
    start, end = _date(window, "start"), _date(window, "end")
    if start > end:
        raise InvalidQueryError("INVALID_REQUEST", "window.start is after window.end")
    region = _text(body, "region", "region")
    if not _REGION.fullmatch(region):
        raise InvalidQueryError("INVALID_REQUEST", "region must be a 6-digit GB/T 2260 code")
    purposes = body.get("purposes")
    if (
        not isinstance(purposes, list)
        or not purposes
        or not all(isinstance(p, str) and p for p in purposes)
    ):
        raise InvalidQueryError("INVALID_REQUEST", "purposes must be a non-empty list of strings")
    return GatewayQuery(source, id_type, id_number, name, start, end, region, tuple(purposes))


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise InvalidQueryError("INVALID_REQUEST", f"{key} must be an object")
    return value


def _text(parent: dict[str, Any], key: str, label: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidQueryError("INVALID_REQUEST", f"{label} must be a string of 1..64 characters")
    return value


def _date(window: dict[str, Any], key: str) -> date:
    value = window.get(key)
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InvalidQueryError("INVALID_REQUEST", f"window.{key} must be a YYYY-MM-DD date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidQueryError("INVALID_REQUEST", f"window.{key} is not a real date") from None
