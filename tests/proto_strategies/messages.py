"""Whole messages drawn from their descriptors (missing, repeated and deeply nested fields),
and near-valid ones derived from a valid request by changing one or two of its fields.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from tests.proto_strategies.descriptors import (
    _MAX_DEPTH,
    FD,
    GRPC_RECEIVE_LIMIT,
    is_date,
    is_leaf,
    is_map,
    is_timestamp,
    message_class,
)
from tests.proto_strategies.reading import describe, id_like
from tests.proto_strategies.scalars import calendar_dates, scalar_values, timestamps


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
