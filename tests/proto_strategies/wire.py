"""Request bytes a message class cannot produce: strings that are not UTF-8, and fields
and lengths written by hand on the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from tests.proto_strategies.descriptors import FD, is_leaf, is_map


# --------------------------------------------------------------------------- wire bytes
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def string_paths(desc: Descriptor, depth: int = 0) -> list[tuple[tuple[int, ...], str]]:
    """(field numbers, dotted path) of every string field under ``desc``, set or not."""
    out: list[tuple[tuple[int, ...], str]] = []
    fields: Sequence[FieldDescriptor] = cast(Any, desc).fields
    for fd in fields:
        if fd.type == FD.TYPE_STRING:
            out.append(((fd.number,), fd.name))
        elif fd.message_type is not None and not is_leaf(fd) and not is_map(fd) and depth < 3:
            for numbers, path in string_paths(fd.message_type, depth + 1):
                out.append(((fd.number, *numbers), f"{fd.name}.{path}"))
    return out


NOT_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"ok\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf")


@st.composite
def wire_variants(draw: st.DrawFn, base: Message) -> tuple[bytes, str]:
    """Bytes on the wire that the message API cannot make: a string that is not UTF-8
    (a lone surrogate, an overlong form, past U+10FFFF), a message cut short, a length
    past the end, tag 0, a varint of eleven bytes, an unknown field, or noise."""
    data = base.SerializeToString()
    strings = string_paths(cast(Any, base).DESCRIPTOR)
    kinds = ["cut short", "length past the end", "tag 0", "long varint", "unknown field", "noise"]
    kind = draw(st.sampled_from(["not UTF-8"] * 4 * bool(strings) + kinds))
    if kind == "not UTF-8":
        numbers, path = strings[draw(st.integers(0, len(strings) - 1))]
        bad = draw(st.sampled_from(NOT_UTF8))
        payload = _field(numbers[-1], bad)
        for number in reversed(numbers[:-1]):
            payload = _field(number, payload)
        # Appended, it is the value parsed last (or a new element of a repeated field).
        return data + payload, f"{path}: {bad!r} (not UTF-8)"
    if kind == "cut short" and len(data) > 1:
        at = draw(st.integers(1, len(data) - 1))
        return data[:at], f"cut after {at} of {len(data)} bytes"
    if kind == "length past the end":
        return data + _varint(1 << 3 | 2) + _varint(1000) + b"ab", kind
    if kind == "tag 0":
        return data + b"\x00\x01", kind
    if kind == "long varint":
        return data + b"\x08" + b"\xff" * 10 + b"\x01", kind
    if kind == "unknown field":
        number = draw(st.sampled_from((99, 536_870_911)))
        return data + _field(number, b"\x00" * draw(st.sampled_from((0, 1, 4096)))), kind
    noise = draw(st.binary(min_size=1, max_size=64))
    return noise, f"{len(noise)} bytes of noise"
