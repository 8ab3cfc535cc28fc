"""Masking for display: what a person may see of an ID number or a name."""

from __future__ import annotations


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
