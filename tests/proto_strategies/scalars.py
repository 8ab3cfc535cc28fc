"""Scalar values on the boundaries a validator must hold: integers at the int32/int64/uint64
edges and at 2^53, enum numbers the enum does not define, timestamps at and beyond the
representable range, calendar dates, and text from ``text``.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from tests.proto_strategies.descriptors import (
    _RANGES,
    FD,
    INT32,
    INT64,
    NANOS_MAX,
    TS_MAX,
    TS_MIN,
    message_class,
)
from tests.proto_strategies.text import hostile_text, text_variants


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
