"""RFC 8785 (JCS) canonical JSON: the exact bytes a report signature covers.

Reports and audit entries hold only objects, arrays, strings, integers, booleans and
null. For those, RFC 8785 is what ``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` writes — as long as every object key sorts the same by UTF-16
code units (JCS) as by code points (Python), i.e. keys stay in the Basic Multilingual
Plane, integers stay within IEEE-754's exact range, and strings hold no lone surrogates.
The fast path checks exactly that and otherwise defers to the reference implementation
(the ``rfc8785`` package); a property test holds the two to the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

_MAX_EXACT = 2**53 - 1  # JCS serializes numbers as IEEE-754 doubles


def canonical_bytes(document: Any) -> bytes:
    """The RFC 8785 canonical form of a JSON-compatible value.

    Floats are refused: money is integer fen and any float in a report is a bug.
    """
    if _fast_path_ok(document, "$"):
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    return bytes(rfc8785.dumps(document))


def _plain_text(text: str) -> bool:
    # Non-BMP characters sort differently in UTF-16; lone surrogates cannot be UTF-8.
    return (
        all(ord(c) < 0xD800 or 0xE000 <= ord(c) <= 0xFFFF for c in text)
        if not text.isascii()
        else True
    )


def _fast_path_ok(value: Any, path: str) -> bool:
    """Whether json.dumps writes the RFC 8785 bytes for ``value``; raises on floats."""
    if isinstance(value, float):
        raise TypeError(f"float at {path}: reports carry integers and strings only")
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return -_MAX_EXACT <= value <= _MAX_EXACT
    if isinstance(value, str):
        return _plain_text(value)
    if isinstance(value, dict):
        ok = True
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"non-string key at {path}")
            ok = _fast_path_ok(v, f"{path}.{k}") and _plain_text(k) and ok
        return ok
    if isinstance(value, list | tuple):
        ok = True
        for i, v in enumerate(value):
            ok = _fast_path_ok(v, f"{path}[{i}]") and ok
        return ok
    raise TypeError(f"{type(value).__name__} at {path} is not JSON")
