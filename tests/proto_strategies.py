"""Hypothesis strategies that build protobuf requests from their descriptors.

For the generative API test (tests/integration/test_api_fuzz.py). Nothing here knows
hedui's messages: every value is chosen from a field's descriptor, to sit on a boundary
a validator must hold — Unicode and control characters, trailing newlines, resident ID
numbers and their Unicode look-alikes, integers at the int32/int64/uint64 edges and at
2^53, enum numbers the enum does not define, missing, repeated and deeply nested fields,
timestamps at and beyond the representable range, strings far longer than any column.

``messages`` draws a whole request; ``mutated`` derives a near-valid one from a valid
request by changing one or two of its fields (otherwise almost every request is refused
by the first check and nothing deeper is ever reached). ``describe`` renders a message
for failure reports without ever printing an ID number: it shows the shape instead.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from hedui_sdk import resident_id

FD = FieldDescriptor

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)
# google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
TS_MIN = -62_135_596_800
TS_MAX = 253_402_300_799
NANOS_MAX = 999_999_999
TIMESTAMP = "google.protobuf.Timestamp"
DATE = "google.type.Date"
# gRPC's default receive limit, which hedui's server keeps.
GRPC_RECEIVE_LIMIT = 4 * 1024 * 1024

_RANGES: dict[int, tuple[int, int]] = {
    FD.TYPE_INT32: INT32,
    FD.TYPE_SINT32: INT32,
    FD.TYPE_SFIXED32: INT32,
    FD.TYPE_INT64: INT64,
    FD.TYPE_SINT64: INT64,
    FD.TYPE_SFIXED64: INT64,
    FD.TYPE_UINT32: UINT32,
    FD.TYPE_FIXED32: UINT32,
    FD.TYPE_UINT64: UINT64,
    FD.TYPE_FIXED64: UINT64,
}
_MAX_DEPTH = 4

# Regions for ID numbers: the seed counties, a capital and one outside any caller's area.
ID_REGIONS = ("370322", "370305", "370281", "371522", "341824", "110101", "650102")

SPECIAL_STRINGS = (
    "",
    " ",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\ufeff",
    "\u200b",
    "\u202e",
    "a\x00b",
    "null",
    "None",
    "0",
    "-1",
    "' OR '1'='1",
    "%s%n%x",
    "{}",
    "../../etc/passwd",
    "${jndi:ldap://x}",
    "\\",
    '"',
    "测试",
    "王\u3000小明",
    "𝟘",
    "🙂",
    "Ａ",
    "\ud7ff",
    "\U0010ffff",
)
SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
SUBSCRIPT_DIGITS = "₀₁₂₃₄₅₆₇₈₉"
CIRCLED_DIGITS = "⓪①②③④⑤⑥⑦⑧⑨"
X_LOOKALIKES = ("x", "Ｘ", "ｘ", "Ⅹ", "ⅹ", "Х", "Χ", "×")


@functools.cache
def decimal_digit_zeros() -> tuple[str, ...]:
    """The zero of every Unicode block of decimal digits (category Nd), ASCII's included.

    ``str.isdigit`` and ``int`` accept all of them, which is how a fullwidth digit once
    passed as an ID number.
    """
    return tuple(
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) == "Nd" and unicodedata.decimal(chr(cp)) == 0
    )


def message_class(desc: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(desc)


def is_timestamp(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.full_name == TIMESTAMP


def is_date(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.full_name == DATE


def is_leaf(fd: FieldDescriptor) -> bool:
    """A message field that is one value (an instant, a date), generated and read whole."""
    return is_timestamp(fd) or is_date(fd)


def is_map(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


# --------------------------------------------------------------------------- scalars
@functools.cache
def resident_ids() -> st.SearchStrategy[str]:
    """Valid synthetic resident ID numbers (GB 11643 check digit), from ``make``."""
    return st.builds(
        resident_id.make,
        st.sampled_from(ID_REGIONS),
        st.dates(date(1900, 1, 1), date(2024, 12, 31)),
        st.integers(0, 999),
    )


def _digit_in(zero: str, ch: str) -> str:
    return chr(ord(zero) + int(ch)) if ch in "0123456789" else ch


# Weighted towards digits that are not ASCII: the way a fullwidth one once got through.
_ID_VARIANT_KINDS = st.sampled_from(
    (
        "one look-alike digit",
        "one look-alike digit",
        "one look-alike digit",
        "all look-alike digits",
        "all look-alike digits",
        "superscript digit",
        "superscript digit",
        "subscript or circled digit",
        "look-alike X",
        "decorated",
        "decorated",
        "zero-width inside",
        "wrong length",
        "separators",
    )
)


@functools.cache
def _lookalike_zeros() -> st.SearchStrategy[str]:
    return st.sampled_from(decimal_digit_zeros()[1:])  # [0] is ASCII '0'


@st.composite
def id_variants(draw: st.DrawFn, number: str) -> str:
    """``number`` made wrong in one way a careless validator lets through."""
    kind = draw(_ID_VARIANT_KINDS)
    pos = draw(st.integers(0, len(number) - 1))
    zero = draw(_lookalike_zeros())
    if kind == "one look-alike digit":
        pos = min(pos, 16)
        return number[:pos] + _digit_in(zero, number[pos]) + number[pos + 1 :]
    if kind == "all look-alike digits":
        return "".join(_digit_in(zero, c) for c in number)
    if kind == "superscript digit":
        pos = min(pos, 16)
        return number[:pos] + SUPERSCRIPT_DIGITS[int(number[pos])] + number[pos + 1 :]
    if kind == "subscript or circled digit":
        table = draw(st.sampled_from((SUBSCRIPT_DIGITS, CIRCLED_DIGITS)))
        pos = min(pos, 16)
        return number[:pos] + table[int(number[pos])] + number[pos + 1 :]
    if kind == "look-alike X":
        return number[:17] + draw(st.sampled_from(X_LOOKALIKES))
    if kind == "decorated":
        before, after = draw(
            st.sampled_from(
                (
                    ("", "\n"),
                    ("", "\r\n"),
                    ("", " "),
                    (" ", ""),
                    ("", "\x00"),
                    ("\ufeff", ""),
                    ("", "\t"),
                    ("\u3000", ""),
                )
            )
        )
        return before + number + after
    if kind == "zero-width inside":
        mark = draw(st.sampled_from(("\u200b", "\u200d", "\u2060", "\u00ad")))
        return number[:pos] + mark + number[pos:]
    if kind == "wrong length":
        return draw(st.sampled_from((number[:17], number + "0", number[:15], number * 2)))
    sep = draw(st.sampled_from(("-", " ", ".")))
    return f"{number[:6]}{sep}{number[6:14]}{sep}{number[14:]}"


@functools.cache
def id_shaped() -> st.SearchStrategy[str]:
    return st.one_of(resident_ids(), resident_ids().flatmap(id_variants))


@functools.cache
def long_strings() -> st.SearchStrategy[str]:
    """Past every length a column or a validator might hold (but under gRPC's limit)."""
    return st.builds(
        lambda ch, n: ch * n,
        st.sampled_from(("a", "1", "１", "测", "\n", "é")),
        st.sampled_from((63, 64, 65, 128, 129, 256, 257, 1025, 4097, 65_537)),
    )


@functools.cache
def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SPECIAL_STRINGS),
        st.text(max_size=24),
        st.text(st.characters(codec="ascii"), max_size=24),
        id_shaped(),
        long_strings(),
        st.tuples(
            st.text(st.characters(codec="ascii"), min_size=1, max_size=12),
            st.sampled_from(("\n", "\r", "\x00", " ", "\u00a0")),
        ).map("".join),
    )


def _to_fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def text_variants(draw: st.DrawFn, current: str) -> str:
    """``current`` (a value that was valid) changed just enough to be wrong, or not."""
    if not current:
        return draw(hostile_text())
    if resident_id.problems(current) == []:
        return draw(id_variants(current))
    pos = draw(st.integers(0, len(current)))
    return draw(
        st.sampled_from(
            (
                current + "\n",
                current + "\r\n",
                current + "\x00",
                " " + current,
                current + " ",
                current[:pos] + "\x07" + current[pos:],
                current[:pos] + "\u200b" + current[pos:],
                current[:-1],
                current + "A" * max(1, 65 - len(current)),
                _to_fullwidth(current),
                current.swapcase(),
                current * 2,
            )
        )
    )


@functools.cache
def integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    edges = {
        lo,
        lo + 1,
        hi - 1,
        hi,
        -1,
        0,
        1,
        2,
        4,
        5,
        30,
        31,
        100,
        1000,
        1001,
        2**31 - 1,
        2**31,
        -(2**31),
        -(2**31) - 1,
        2**32,
        2**53 - 1,
        2**53,
        2**53 + 1,
        -(2**53),
        2**62,
        2**63 - 1,
    }
    return st.one_of(
        st.sampled_from(sorted(v for v in edges if lo <= v <= hi)),
        st.integers(max(lo, -3), min(hi, 40)),
        st.integers(lo, hi),
    )


@functools.cache
def enum_numbers(fd: FieldDescriptor) -> st.SearchStrategy[int]:
    assert fd.enum_type is not None
    known = sorted(fd.enum_type.values_by_number)
    unknown = sorted({max(known) + 1, -1, 99, 2**31 - 1, -(2**31)} - set(known))
    return st.one_of(st.sampled_from(known), st.sampled_from(unknown), st.integers(*INT32))


@functools.cache
def timestamps() -> st.SearchStrategy[Message]:
    from google.protobuf.timestamp_pb2 import Timestamp

    seconds = st.one_of(
        st.sampled_from(
            (
                TS_MIN - 1,
                TS_MIN,
                TS_MAX,
                TS_MAX + 1,
                0,
                -1,
                1_764_400_000,
                2**53,
                -(2**53),
                INT64[0],
                INT64[1],
            )
        ),
        st.integers(TS_MIN, TS_MAX),
        st.integers(*INT64),
    )
    nanos = st.one_of(
        st.sampled_from((0, 1, NANOS_MAX, NANOS_MAX + 1, -1, INT32[0], INT32[1])),
        st.integers(*INT32),
    )
    return st.builds(lambda s, n: Timestamp(seconds=s, nanos=n), seconds, nanos)


@functools.cache
def calendar_dates(fd: FieldDescriptor) -> st.SearchStrategy[Message]:
    """google.type.Date values: real dates, and every way one is not (month 13, 30
    February, year 0 or 10000, negative parts, the all-zero "no date")."""
    assert fd.message_type is not None
    cls = message_class(fd.message_type)
    parts = st.one_of(
        st.dates().map(lambda d: (d.year, d.month, d.day)),
        st.sampled_from(
            (
                (0, 0, 0),
                (2026, 0, 0),
                (2026, 13, 1),
                (2026, 2, 30),
                (2025, 2, 29),
                (2026, 4, 31),
                (0, 1, 1),
                (10_000, 1, 1),
                (-1, 1, 1),
                (2026, -1, 1),
                (2026, 1, 0),
                (2026, 1, 32),
                (INT32[1], 12, 31),
            )
        ),
        st.tuples(st.integers(*INT32), st.integers(*INT32), st.integers(*INT32)),
    )
    return parts.map(lambda p: cls(year=p[0], month=p[1], day=p[2]))


def scalar_values(fd: FieldDescriptor, current: Any = None) -> st.SearchStrategy[Any]:
    """A value for one (non-message) field; near ``current`` when it is given."""
    t = fd.type
    if current is None:
        return _scalar_values(fd)
    if t == FD.TYPE_STRING:
        # Mostly near the valid value (three in four), else anything.
        return st.integers(0, 3).flatmap(lambda i: text_variants(current) if i else hostile_text())
    if isinstance(current, int) and t in _RANGES:
        lo, hi = _RANGES[t]
        near = [v for v in (current - 1, current + 1, -current, current * 2) if lo <= v <= hi]
        return st.one_of(st.sampled_from(near), integers(lo, hi)) if near else integers(lo, hi)
    return _scalar_values(fd)


@functools.cache
def _scalar_values(fd: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = fd.type
    if t == FD.TYPE_STRING:
        return hostile_text()
    if t == FD.TYPE_BYTES:
        return st.one_of(
            st.binary(max_size=64),
            st.sampled_from((b"", b"\x00" * 33, b"\xff" * 65, b"A" * 65_537)),
        )
    if t == FD.TYPE_BOOL:
        return st.booleans()
    if t == FD.TYPE_ENUM:
        return enum_numbers(fd)
    if t in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        return st.floats(width=64 if t == FD.TYPE_DOUBLE else 32)
    return integers(*_RANGES[t])


# --------------------------------------------------------------------------- messages
def _assign(msg: Message, fd: FieldDescriptor, value: Any) -> None:
    if is_map(fd):
        container = getattr(msg, fd.name)
        value_fd = fd.message_type.fields_by_name["value"]  # type: ignore[union-attr]
        for k, v in value:
            if value_fd.type == FD.TYPE_MESSAGE:
                container[k].CopyFrom(v)
            else:
                container[k] = v
    elif fd.is_repeated:
        container = getattr(msg, fd.name)
        if fd.type == FD.TYPE_MESSAGE:
            for v in value:
                container.add().CopyFrom(v)
        else:
            container.extend(value)
    elif fd.type == FD.TYPE_MESSAGE:
        getattr(msg, fd.name).CopyFrom(value)
    else:
        setattr(msg, fd.name, value)


@functools.cache
def field_values(fd: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    """One element's value for ``fd`` (a message, a timestamp or a scalar)."""
    if is_timestamp(fd):
        return timestamps()
    if is_date(fd):
        return calendar_dates(fd)
    if fd.type == FD.TYPE_MESSAGE:
        assert fd.message_type is not None
        return messages(fd.message_type, depth + 1)
    return scalar_values(fd)


@functools.cache
def repeated_values(fd: FieldDescriptor, depth: int) -> st.SearchStrategy[list[Any]]:
    element = field_values(fd, depth)
    # The same element again and again: duplicates, and more than any limit allows. Only
    # the outermost lists get long: a thousand households of a thousand members each would
    # be past gRPC's limit anyway, and slow to build.
    counts = (2, 31, 101, 1001) if depth == 0 else (2, 31)
    return st.one_of(
        st.lists(element, max_size=3 if depth == 0 else 2),
        st.builds(lambda e, n: [e] * n, element, st.sampled_from(counts)),
    )


@st.composite
def _message(draw: st.DrawFn, desc: Descriptor, depth: int) -> Message:
    msg = message_class(desc)()
    for fd in desc.fields:
        nested = fd.type == FD.TYPE_MESSAGE and not is_leaf(fd)
        if (nested and depth >= _MAX_DEPTH) or not draw(st.booleans()):
            continue  # the field is missing
        if is_map(fd):
            mt = fd.message_type
            assert mt is not None
            key = scalar_values(mt.fields_by_name["key"])
            val = field_values(mt.fields_by_name["value"], depth)
            _assign(msg, fd, draw(st.lists(st.tuples(key, val), max_size=3)))
        elif fd.is_repeated:
            _assign(msg, fd, draw(repeated_values(fd, depth)))
        else:
            _assign(msg, fd, draw(field_values(fd, depth)))
    return msg


@functools.cache
def messages(desc: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    """Any message of type ``desc``: each field missing or set to a hostile value."""
    return _message(desc, depth)


# --------------------------------------------------------------------------- mutations
Path = tuple[tuple[str, int | None], ...]


@dataclass(frozen=True, slots=True)
class Slot:
    """A field of the message found by following ``path`` from the root."""

    path: Path
    field: FieldDescriptor

    def text(self) -> str:
        parts = [name if i is None else f"{name}[{i}]" for name, i in self.path]
        return ".".join([*parts, self.field.name])


def slots(msg: Message, path: Path = ()) -> Iterator[Slot]:
    """Every field of every (set) message in ``msg``, set or not."""
    fields: Sequence[FieldDescriptor] = cast(Any, msg.DESCRIPTOR).fields
    for fd in fields:
        yield Slot(path, fd)
        if fd.type != FD.TYPE_MESSAGE or is_map(fd) or is_leaf(fd):
            continue
        if fd.is_repeated:
            for i, item in enumerate(getattr(msg, fd.name)):
                yield from slots(item, (*path, (fd.name, i)))
        elif msg.HasField(fd.name):
            yield from slots(getattr(msg, fd.name), (*path, (fd.name, None)))


def _follow(root: Message, path: Path) -> Message:
    msg = root
    for name, i in path:
        msg = getattr(msg, name) if i is None else getattr(msg, name)[i]
    return msg


def copy_of(msg: Message) -> Message:
    out = type(msg)()
    out.CopyFrom(msg)
    return out


@st.composite
def _mutate_once(draw: st.DrawFn, msg: Message) -> str:
    """Change one field of ``msg`` in place; say what was done (values described)."""
    candidates = [s for s in slots(msg) if not is_map(s.field)]
    if not candidates:
        return "no field to change"
    # Half the time a string that holds something: names, numbers and codes are where a
    # validator is most often wrong, and a household has many more fields than those.
    texts = [
        s
        for s in candidates
        if s.field.type == FD.TYPE_STRING
        and not s.field.is_repeated
        and getattr(_follow(msg, s.path), s.field.name)
    ]
    # And of those, half the time an ID number, the field a look-alike digit once got past.
    ids = [s for s in texts if id_like(getattr(_follow(msg, s.path), s.field.name))]
    pick = draw(st.integers(0, 3)) if texts else 0
    if pick >= 2:
        candidates = ids if ids and pick == 3 else texts
    slot = candidates[draw(st.integers(0, len(candidates) - 1))]
    parent = _follow(msg, slot.path)
    fd = slot.field
    name = slot.text()
    if fd.is_repeated:
        items = getattr(parent, fd.name)
        ops = ["append", "clear", "multiply"]
        if len(items):
            ops += ["replace", "duplicate", "drop"]
        op = draw(st.sampled_from(ops))
        element = field_values(fd, len(slot.path))
        if op == "clear":
            parent.ClearField(fd.name)
            return f"{name}: cleared"
        if op == "append":
            value = draw(element)
            _assign(parent, fd, [value])
            return f"{name}: appended {describe(value)}"
        if op == "multiply":
            n = draw(st.sampled_from((2, 31, 101, 1001)))
            current = list(items)
            value = current[0] if current else draw(element)
            parent.ClearField(fd.name)
            _assign(parent, fd, [value] * n)
            return f"{name}: {n} copies of {describe(value)}"
        i = draw(st.integers(0, len(items) - 1))
        if op == "drop":
            del items[i]
            return f"{name}[{i}]: dropped"
        if op == "duplicate":
            _assign(parent, fd, [items[i]])
            return f"{name}[{i}]: repeated at the end"
        if fd.type == FD.TYPE_MESSAGE:
            value = draw(element)
            items[i].CopyFrom(value)
        else:
            value = draw(scalar_values(fd, items[i]))
            items[i] = value
        return f"{name}[{i}]: set to {describe(value)}"
    if fd.type == FD.TYPE_MESSAGE:
        op = draw(st.sampled_from(("replace", "clear", "empty")))
        if op == "clear":
            parent.ClearField(fd.name)
            return f"{name}: missing"
        if op == "empty":
            parent.ClearField(fd.name)
            getattr(parent, fd.name).SetInParent()
            return f"{name}: present but empty"
        value = draw(field_values(fd, len(slot.path)))
        _assign(parent, fd, value)
        return f"{name}: set to {describe(value)}"
    if draw(st.integers(0, 9)) == 0:
        parent.ClearField(fd.name)
        return f"{name}: missing"
    value = draw(scalar_values(fd, getattr(parent, fd.name)))
    _assign(parent, fd, value)
    return f"{name}: set to {describe(value)}"


@st.composite
def mutated(draw: st.DrawFn, base: Message) -> tuple[Message, str]:
    """A copy of ``base`` with one (sometimes two) fields changed, and what changed."""
    msg = copy_of(base)
    changes = [draw(_mutate_once(msg)) for _ in range(draw(st.sampled_from((1, 1, 1, 2))))]
    return msg, "; ".join(changes)


@st.composite
def oversized(draw: st.DrawFn, base: Message) -> tuple[Message, str]:
    """``base`` with one string field just under or over gRPC's 4 MiB receive limit."""
    msg = copy_of(base)
    strings = [s for s in slots(msg) if s.field.type == FD.TYPE_STRING and not s.field.is_repeated]
    if not strings:
        return msg, "nothing to grow"
    slot = strings[draw(st.integers(0, len(strings) - 1))]
    size = draw(st.sampled_from((GRPC_RECEIVE_LIMIT - 4096, GRPC_RECEIVE_LIMIT + 1)))
    setattr(_follow(msg, slot.path), slot.field.name, "A" * size)
    return msg, f"{slot.text()}: {size} characters"


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


__all__ = [
    "GRPC_RECEIVE_LIMIT",
    "INT32",
    "INT64",
    "NANOS_MAX",
    "TS_MAX",
    "TS_MIN",
    "Slot",
    "canonical_resident_id",
    "copy_of",
    "describe",
    "hostile_text",
    "id_like",
    "is_date",
    "is_leaf",
    "is_timestamp",
    "message_class",
    "messages",
    "mutated",
    "oversized",
    "resident_ids",
    "resolves",
    "shape",
    "slots",
    "walk",
    "wire_variants",
]
