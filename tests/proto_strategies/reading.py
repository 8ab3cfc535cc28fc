"""Reading a message back: walking its fields, telling an ID number by its shape, rendering
it for failure reports without ever printing an ID number, and resolving a field path.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from hedui_sdk import resident_id
from tests.proto_strategies.descriptors import DATE, FD, TIMESTAMP, is_leaf, is_map


# --------------------------------------------------------------------------- reading
def walk(
    msg: Message, prefix: str = "", skip: Callable[[FieldDescriptor], bool] = lambda fd: False
) -> Iterator[tuple[str, FieldDescriptor, Any, Message]]:
    """(path, field, value, parent) for every set scalar, element and timestamp, leaving
    out the fields (and everything under the fields) ``skip`` says to."""
    for fd, value in msg.ListFields():
        path = f"{prefix}{fd.name}"
        if is_map(fd) or skip(fd):
            continue
        items = list(value) if fd.is_repeated else [value]
        for i, item in enumerate(items):
            here = f"{path}[{i}]" if fd.is_repeated else path
            if fd.type == FD.TYPE_MESSAGE and not is_leaf(fd):
                yield from walk(item, here + ".", skip)
            else:
                yield here, fd, item, msg


_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp"}


def ascii_digits(text: str) -> str:
    """``text`` with compatibility forms folded and every decimal digit made ASCII."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(
        str(unicodedata.decimal(c)) if unicodedata.category(c) == "Nd" else c for c in folded
    )


def id_like(text: str) -> bool:
    """Whether ``text`` is, once folded and stripped of invisible characters, a valid
    resident ID number: personal data whatever field it arrived in."""
    if len(text) > 64:
        return False
    core = "".join(c for c in ascii_digits(text) if unicodedata.category(c) not in _INVISIBLE)
    core = core.upper()
    return bool(_ID_SHAPE.fullmatch(core)) and resident_id.problems(core) == []


def canonical_resident_id(text: str) -> bool:
    """Exactly ``[0-9]{17}[0-9X]`` in ASCII with a valid check digit and birth date."""
    return bool(_ID_SHAPE.fullmatch(text)) and resident_id.problems(text) == []


def shape(text: str) -> str:
    """How a string looks, for a failure report: its content unless it could be an ID
    number, whose shape (length, odd characters and where) is given instead."""
    if id_like(text) or (len(text) <= 64 and _ID_SHAPE.fullmatch(ascii_digits(text).upper())):
        notes = [
            f"U+{ord(c):04X} {unicodedata.name(c, '?')} at {i}"
            for i, c in enumerate(text)
            if not ("0" <= c <= "9" or c == "X")
        ]
        valid = "valid" if canonical_resident_id(text) else "ID-shaped"
        return f"<{valid} resident ID, {len(text)} chars{'; ' if notes else ''}{'; '.join(notes)}>"
    if len(text) > 80:
        counts = sorted({c for c in text})
        odd = "".join(counts)[:8]
        return f"<{len(text)} chars of {odd!a}>"
    return ascii(text)


def describe(value: Any) -> str:
    """A one-line rendering of a value or message, with strings shown by ``shape``."""
    if isinstance(value, Message):
        leaf: Any = value
        if value.DESCRIPTOR.full_name == TIMESTAMP:
            return f"Timestamp(seconds={leaf.seconds}, nanos={leaf.nanos})"
        if value.DESCRIPTOR.full_name == DATE:
            return f"Date({leaf.year}, {leaf.month}, {leaf.day})"
        parts: list[str] = []
        for fd, v in value.ListFields():
            if fd.is_repeated and not is_map(fd):
                items = list(v)
                shown = ", ".join(describe(x) for x in items[:3])
                more = f", … {len(items)} in all" if len(items) > 3 else ""
                parts.append(f"{fd.name}: [{shown}{more}]")
            elif is_map(fd):
                parts.append(f"{fd.name}: <map of {len(v)}>")
            else:
                parts.append(f"{fd.name}: {describe(v)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, str):
        return shape(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>" if len(value) > 32 else repr(value)
    return repr(value)


def resolves(path: str, desc: Descriptor) -> bool:
    """Whether ``path`` (``a.b[2].c``) names a field of ``desc``: from the root, or from
    a message-typed field of the root (a request that wraps one document)."""

    def from_(d: Descriptor | None, parts: list[str]) -> bool:
        for part in parts:
            if d is None:
                return False
            name = re.sub(r"\[[0-9]+\]$", "", part)
            fd = d.fields_by_name.get(name) or d.fields_by_camelcase_name.get(name)
            if fd is None:
                return False
            d = fd.message_type
        return True

    if not path or not re.fullmatch(
        r"[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?)*", path
    ):
        return False
    parts = path.split(".")
    if from_(desc, parts):
        return True
    return any(
        from_(fd.message_type, parts)
        for fd in desc.fields
        if fd.type == FD.TYPE_MESSAGE and not fd.is_repeated and not is_leaf(fd)
    )
