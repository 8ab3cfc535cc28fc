"""Requests whose bytes do not parse: which field is at fault.

protobuf refuses a string field that is not UTF-8, or a message cut short, with a
``DecodeError`` that names no field; grpc would answer UNKNOWN with the parser's text.
:func:`tolerant` wraps a method's deserializer so that such bytes become an
:class:`Undecodable` value instead, and :func:`locate` walks the wire format
(https://protobuf.dev/programming-guides/encoding/) against the request's descriptor to
name the field, so the caller gets INVALID_ARGUMENT with a field violation like any
other bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError

from verifier.domain.errors import FieldViolation

__all__ = ["Undecodable", "locate", "tolerant"]

_WHOLE = "request"


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Stands in for a request that did not parse."""

    violation: FieldViolation


class _Cut(Exception):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Cut
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _walk(desc: Descriptor, data: bytes, prefix: str) -> FieldViolation | None:
    seen: dict[int, int] = {}
    pos = 0
    while pos < len(data):
        path = prefix.rstrip(".") or _WHOLE
        try:
            key, pos = _varint(data, pos)
        except _Cut:
            return FieldViolation(path, "is cut short")
        number, wire_type = key >> 3, key & 7
        field = desc.fields_by_number.get(number)
        if field is not None:
            path = prefix + field.name
            if field.is_repeated:
                path += f"[{seen.get(number, 0)}]"
            seen[number] = seen.get(number, 0) + 1
        try:
            if wire_type == 0:
                _, pos = _varint(data, pos)
            elif wire_type in (1, 5):
                pos += 8 if wire_type == 1 else 4
            elif wire_type == 2:
                length, pos = _varint(data, pos)
                chunk = data[pos : pos + length]
                pos += length
                if len(chunk) < length:
                    raise _Cut
                if field is not None and field.type == FieldDescriptor.TYPE_STRING:
                    chunk.decode("utf-8")
                elif field is not None and field.type == FieldDescriptor.TYPE_MESSAGE:
                    inner = field.message_type and _walk(field.message_type, chunk, path + ".")
                    if inner:
                        return inner
            else:
                return FieldViolation(path, "is not in the protobuf wire format")
        except _Cut:
            return FieldViolation(path, "is cut short")
        except UnicodeDecodeError:
            return FieldViolation(path, "must be valid UTF-8")
        if pos > len(data):
            return FieldViolation(path, "is cut short")
    return None


def locate(desc: Descriptor, data: bytes) -> FieldViolation:
    """The first field of ``data`` (a serialized ``desc``) that makes it unparsable."""
    return _walk(desc, data, "") or FieldViolation(_WHOLE, "is not a valid message")


def tolerant(
    deserialize: Callable[[bytes], Any] | None, method: str
) -> Callable[[bytes], Any] | None:
    """``deserialize`` for ``method`` (``/package.Service/Method``), returning an
    :class:`Undecodable` instead of raising on bytes that do not parse."""
    if deserialize is None:
        return None
    service, _, name = method.lstrip("/").partition("/")
    desc = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name).input_type

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError:
            pass
        try:
            return Undecodable(locate(desc, data))
        except Exception:  # any failure to explain the bytes still refuses them
            return Undecodable(FieldViolation(_WHOLE, "is not a valid message"))

    return parse
