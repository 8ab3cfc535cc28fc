"""Masking for display: what a person may see of an ID number or a name."""

from __future__ import annotations

import re
from collections.abc import Iterable

ID_LIKE = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}[01][0-9][0-3][0-9][0-9]{3}[0-9Xx](?![0-9])"
)
"""What looks like an 18-character resident ID number inside free text."""


def mask_id_number(id_number: str) -> str:
    """Mask an ID number for display: keep the first 4 and last 4 characters.

    ``370322YYYYMMDDNNNC`` becomes ``3703**********NNNC``. Short numbers are masked whole.
    """
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_name(name: str) -> str:
    """Mask a personal name for display: keep the first character (the family name)."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def redact(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with anything like a resident ID number, and each of ``known`` (the ID
    number and name of the person concerned, say), replaced by a marker.

    The second line of defence for free text that code does not control, such as an
    adapter's exception message on its way into a report.
    """
    text = ID_LIKE.sub("[REDACTED-ID]", text)
    for value in sorted((k for k in known if k), key=len, reverse=True):
        text = text.replace(value, "[REDACTED]")
    return text
