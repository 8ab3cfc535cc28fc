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

The strategies live in modules by what they build (``descriptors``, ``text``, ``scalars``,
``messages``, ``wire``, ``reading``); the names the API test uses are exported here.
"""

from __future__ import annotations

from tests.proto_strategies.descriptors import (
    GRPC_RECEIVE_LIMIT,
    INT32,
    INT64,
    NANOS_MAX,
    TS_MAX,
    TS_MIN,
    is_date,
    is_leaf,
    is_timestamp,
    message_class,
)
from tests.proto_strategies.messages import Slot, copy_of, messages, mutated, oversized, slots
from tests.proto_strategies.reading import (
    ascii_digits,
    canonical_resident_id,
    describe,
    id_like,
    resolves,
    shape,
    walk,
)
from tests.proto_strategies.text import hostile_text, resident_ids
from tests.proto_strategies.wire import wire_variants

__all__ = [
    "GRPC_RECEIVE_LIMIT",
    "INT32",
    "INT64",
    "NANOS_MAX",
    "TS_MAX",
    "TS_MIN",
    "Slot",
    "ascii_digits",
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
