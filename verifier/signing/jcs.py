"""RFC 8785 (JCS) canonical JSON: the exact bytes a report signature covers."""

from __future__ import annotations

from typing import Any

import rfc8785


def canonical_bytes(document: Any) -> bytes:
    """The RFC 8785 canonical form of a JSON-compatible value.

    Floats are refused: money is integer fen and any float in a report is a bug.
    """
    _refuse_floats(document, "$")
    return bytes(rfc8785.dumps(document))


def _refuse_floats(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise TypeError(f"float at {path}: reports carry integers and strings only")
    if isinstance(value, dict):
        for k, v in value.items():
            _refuse_floats(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _refuse_floats(v, f"{path}[{i}]")
