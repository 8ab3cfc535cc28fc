"""What the strategies read from a field's descriptor: the integer and timestamp ranges,
gRPC's receive limit, and whether a field is a leaf (an instant, a date) or a map.
"""

from __future__ import annotations

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

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
