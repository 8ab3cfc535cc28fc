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
import re
from typing import Any

import rfc8785

_MAX_EXACT = 2**53 - 1  # JCS serializes numbers as IEEE-754 doubles
# Characters whose UTF-16 order differs from their code-point order, or that UTF-8
# cannot carry (lone surrogates): their presence sends a document to the reference.
_NOT_PLAIN = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")
# Built once: json.dumps with options builds a new encoder on every call.
SORTED_COMPACT = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def canonical_bytes(document: Any) -> bytes:
    """The RFC 8785 canonical form of a JSON-compatible value.

    Floats are refused: money is integer fen and any float in a report is a bug.
    """
    if _plain_shape(document):
        text = SORTED_COMPACT(document)
        if text.isascii() or _NOT_PLAIN.search(text) is None:
            return text.encode("utf-8")
    if _fast_path_ok(document, "$"):
        return SORTED_COMPACT(document).encode("utf-8")
    return bytes(rfc8785.dumps(document))


def _plain_shape(document: Any) -> bool:
    """Whether ``document`` holds only exact-type JSON values: dicts with str keys, lists,
    tuples, str, bool, None and ints within the exact range.

    The hot path for reports and audit entries, which are thousands of nodes each: one
    loop, no recursion, no per-node path strings. Strings are checked afterwards on the
    serialized text in one regex pass. Anything else (a float, a subclass, a huge int)
    answers False and the careful walk below decides, naming the offending path.
    """
    stack = [document]
    pop, extend = stack.pop, stack.extend
    while stack:
        value = pop()
        kind = type(value)
        if kind is str or kind is bool or value is None:
            continue
        if kind is dict:
            for key in value:
                if type(key) is not str:
                    return False
            extend(value.values())
        elif kind is list or kind is tuple:
            extend(value)
        elif kind is int:
            if not -_MAX_EXACT <= value <= _MAX_EXACT:
                return False
        else:
            return False
    return True


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
