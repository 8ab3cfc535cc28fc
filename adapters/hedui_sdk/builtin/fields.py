"""Strict readers of one field of a gateway protocol v1 record object.

Shared by the decoders of every record type. Each raises
:class:`~hedui_sdk.errors.PermanentSourceError` naming the field (``where.key``), never
its value: values can be personal data.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hedui_sdk.errors import PermanentSourceError
from hedui_sdk.validation import MAX_FEN

JsonObject = dict[str, Any]
"""A decoded JSON object."""

INT64_MAX = MAX_FEN
"""Money travels as int64 fen on hedui's own wire, so larger amounts are refused here."""

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def json_object(value: Any, where: str) -> JsonObject:
    """``value`` when it is a JSON object."""
    if not isinstance(value, dict):
        raise PermanentSourceError(f"{where} must be a JSON object")
    return value


def text(rec: JsonObject, key: str, where: str, *, required: bool = False) -> str:
    """A string of at most 512 characters; absent reads as ``""`` unless ``required``."""
    value = rec.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value) or len(value) > 512:
        raise PermanentSourceError(f"{where}.{key} must be a string of at most 512 characters")
    return value


def fen(rec: JsonObject, key: str, where: str, *, signed: bool = False) -> int:
    """An integer amount of fen within int64; negative only when ``signed``."""
    value = rec.get(key)
    # bool is an int subclass and a float is never money: both are refused.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PermanentSourceError(f"{where}.{key} must be an integer amount of fen")
    low = -INT64_MAX if signed else 0
    if not low <= value <= INT64_MAX:
        raise PermanentSourceError(f"{where}.{key} is out of range")
    return value


def day(value: Any, where: str) -> date:
    """A ``YYYY-MM-DD`` calendar date."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise PermanentSourceError(f"{where} must be a YYYY-MM-DD date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PermanentSourceError(f"{where} is not a real date") from None


def optional_day(rec: JsonObject, key: str, where: str) -> date | None:
    """A date that may be absent or ``null`` (an open end)."""
    value = rec.get(key)
    return None if value is None else day(value, f"{where}.{key}")


def period(rec: JsonObject, where: str) -> tuple[date, date]:
    """``period_start`` and ``period_end``, both required, start not after end."""
    start = day(rec.get("period_start"), f"{where}.period_start")
    end = day(rec.get("period_end"), f"{where}.period_end")
    if start > end:
        raise PermanentSourceError(f"{where}.period_start is after period_end")
    return start, end


def open_period(rec: JsonObject, where: str) -> tuple[date, date | None]:
    """``period_start`` (required) and ``period_end`` (absent or ``null`` while current)."""
    start = day(rec.get("period_start"), f"{where}.period_start")
    end = optional_day(rec, "period_end", where)
    if end is not None and start > end:
        raise PermanentSourceError(f"{where}.period_start is after period_end")
    return start, end
