"""Request fields every API reads the same way: enums, dates, date ranges and pages.

Each reader appends what is wrong to ``out`` (one violation per field) and returns
``None`` for it, so a request is checked whole and refused once with every problem."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import Enum
from typing import Any, TypeVar

from google.protobuf.message import Message
from google.type import date_pb2

from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation
from verifier.service.page_tokens import TOKEN_PATTERN

__all__ = [
    "check_page",
    "date_pb",
    "date_range",
    "enum_from_pb",
    "optional_date",
    "pb_date",
    "report_version",
]

E = TypeVar("E", bound=Enum)


def enum_from_pb(
    value: int, known: Mapping[Any, E], field: str, what: str, out: list[FieldViolation]
) -> E | None:
    """The domain value of a wire enum; None for unspecified. An unknown number is a
    violation (a newer client's value must not be taken for "any")."""
    if value == 0:
        return None
    found = known.get(value)
    if found is None:
        out.append(FieldViolation(field, f"must be a known {what}"))
    return found


def pb_date(d: date_pb2.Date, field: str, out: list[FieldViolation]) -> date | None:
    """A whole, real calendar date (google.type.Date allows partial dates; we do not)."""
    try:
        return date(d.year, d.month, d.day)
    except ValueError:
        out.append(FieldViolation(field, "must be a real date (year, month and day)"))
        return None


def date_pb(d: date) -> date_pb2.Date:
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def optional_date(msg: Message, field: str, out: list[FieldViolation]) -> date | None:
    """The date in ``msg``'s field ``field``, or None when the field is not set."""
    return pb_date(getattr(msg, field), field, out) if msg.HasField(field) else None


def date_range(
    msg: Message, start_field: str, end_field: str, out: list[FieldViolation]
) -> tuple[date | None, date | None]:
    """A from–to filter of two optional dates; an end before the start is named."""
    start = optional_date(msg, start_field, out)
    end = optional_date(msg, end_field, out)
    if start and end and end < start:
        out.append(FieldViolation(end_field, f"must not be before {start_field}"))
    return start, end


def check_page(page_size: int, page_token: str, size_max: int, out: list[FieldViolation]) -> None:
    """A page size within 0..``size_max`` (0: the default) and a token of our making."""
    ids.check_range(page_size, "page_size", 0, size_max, out)
    if page_token and not TOKEN_PATTERN.fullmatch(page_token):
        out.append(FieldViolation("page_token", "is not a token we issued"))


def report_version(msg: Message, out: list[FieldViolation], field: str = "version") -> int:
    """The report version asked for in ``msg``'s optional ``field``; 0 (the use cases'
    "latest") when unset. A set version starts at 1."""
    if not msg.HasField(field):
        return 0
    version: int = getattr(msg, field)
    if version < 1:
        out.append(FieldViolation(field, "must be a version (1 or more); unset for the latest"))
    return version
