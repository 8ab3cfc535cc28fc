"""The API under test and the boundary rules: every RPC, who may call it, what must be refused."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import unicodedata
from datetime import date
from pathlib import Path

import grpc
import hedui.v1
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hedui.v1 import common_pb2
from hypothesis import Phase

from tests.proto_strategies import (
    NANOS_MAX,
    TS_MAX,
    TS_MIN,
    ascii_digits,
    canonical_resident_id,
    id_like,
    is_date,
    is_timestamp,
    walk,
)
from verifier.api.server import FEDERATION_SERVICE

# Examples per RPC on each database, for the richest requests; an RPC whose request has
# few fields gets fewer (see ``examples_for``). HEDUI_FUZZ_SCALE multiplies them all.
SCALE = float(os.environ.get("HEDUI_FUZZ_SCALE", "1"))
EXAMPLES = {"sqlite": 200, "postgresql": 40}
CALL_TIMEOUT = 5.0
# Per RPC and database, under pytest-timeout's 120 s (a scaled-up run gets more).
BUDGET_SECONDS = 75.0 * max(1.0, SCALE)
# Shrinking a failure to a minimal request can take minutes per kind of failure (each step
# is a call to the server), so by default every example runs and the first request of each
# kind of failure is reported (a near-valid one names the one field it changed).
# HEDUI_FUZZ_SHRINK=1 instead lets hypothesis shrink each kind (a local run).
SHRINK = os.environ.get("HEDUI_FUZZ_SHRINK") == "1"
PHASES = tuple(Phase) if SHRINK else (Phase.explicit, Phase.reuse, Phase.generate)
SYSTEM = "case-system-a"
SYSTEM_B = "case-system-b"
FD = FieldDescriptor
Code = grpc.StatusCode
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- the API
def _methods() -> list[MethodDescriptor]:
    """Every RPC of every service in the generated hedui.v1 package."""
    found: list[MethodDescriptor] = []
    for info in sorted(pkgutil.iter_modules(hedui.v1.__path__), key=lambda i: i.name):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"hedui.v1.{info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            # Served only to a configured peer deployment, identified by its client
            # certificate: a caseworker over plain gRPC finds it unimplemented. It is
            # fuzzed over mTLS instead (tests/api_fuzz/federation.py).
            if service.full_name != FEDERATION_SERVICE:
                found.extend(service.methods)
    return found


METHODS = _methods()

# Who may call what (README, DESIGN): auditors read the audit log, caseworkers do the rest.
PROPER_ROLE = {"hedui.v1.AuditService": "auditor"}
# The audit action of a PERMISSION_DENIED answer, per RPC (the service's, else the RPC's).
DENY_ACTION = {
    "hedui.v1.AuditService": "audit_read",
    # A peer refused (not trusted, or the agreement or 授权书 does not cover the ask).
    "hedui.v1.FederationService": "authorize",
    "CreateVerification": "authorize",
    "GetReport": "report_read",
    "RegisterConsent": "consent_register",
    "RevokeConsent": "consent_revoke",
    "GetConsent": "consent_read",
}
# The field of a valid request that must be new for the request to get past "seen before".
FRESH_KEYS = {
    "CreateVerification": "request_id",
    "RegisterConsent": "consent.number",
    "RevokeConsent": "number",
    "SubmitBatch": "request_id",
    "Assist": "request_id",
}
# What AuditLog.append writes: a PERMISSION_DENIED may touch these tables and no other.
AUDIT_APPEND_TABLES = frozenset(
    {"audit_entries", "audit_subjects", "audit_tree_nodes", "audit_head"}
)
# Other refusals (NOT_FOUND, FAILED_PRECONDITION…) may also have signed a checkpoint.
AUDIT_TABLES = AUDIT_APPEND_TABLES | {"audit_checkpoints"}
# The client's own refusal of an answer past gRPC's receive limit: the server sent it.
TOO_LARGE = "CLIENT: Received message larger than max"
CALLERS = {
    "caseworker": (SYSTEM, "worker-1", "caseworker"),
    "reviewer": (SYSTEM, "reviewer-1", "reviewer"),
    "auditor": (SYSTEM, "auditor-1", "auditor"),
    "other-system": (SYSTEM_B, "worker-b", "caseworker"),
}

REFUSALS = frozenset(
    {
        Code.INVALID_ARGUMENT,
        Code.NOT_FOUND,
        Code.PERMISSION_DENIED,
        Code.UNAUTHENTICATED,
        Code.FAILED_PRECONDITION,
        Code.RESOURCE_EXHAUSTED,
        Code.ABORTED,
        Code.OUT_OF_RANGE,
        Code.ALREADY_EXISTS,
    }
)
# A stream may legitimately still be open at its deadline (a watch of a running check).
STREAM_ONLY = frozenset({Code.DEADLINE_EXCEEDED})
# Answers that mean the request did not get past the boundary.
REFUSED_AT_BOUNDARY = frozenset({Code.INVALID_ARGUMENT, Code.UNAUTHENTICATED})


# --------------------------------------------------------------------------- must refuse
TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
FORMATS = {
    # A GB/T 2260 code; a filter may take a province or city prefix (2 or 4 digits).
    "region_code": re.compile(r"[0-9]{2}(?:[0-9]{2}(?:[0-9]{2})?)?"),
    # A 协查's region (AssistRequest.region): a whole six-digit code.
    "region": re.compile(r"[0-9]{6}"),
    # A member's 户籍 region: a whole code whose first two digits are a province.
    "hukou_region_code": re.compile(
        r"(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])[0-9]{4}"
    ),
    "request_id": TOKEN,
    "evidence_sha256": re.compile(r"[0-9a-f]{64}"),
    "verification_id": re.compile(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    ),
}
MAX_LENGTH = {"case_id": 64}
# Fields that must never hold personal data (proto comments; issue 12 item 5).
NON_PERSONAL = frozenset(
    {
        "request_id",
        "case_id",
        "authorization_id",
        "number",
        "evidence_ref",
        "evidence_location",
        "verification_id",
        "actor_system",
        "actor_user",
        "action",
        "page_token",
        "reason",
        "region_code",
        "hukou_region_code",
    }
)
# Free text may hold line breaks; every other string field is a name, code or identifier.
FREE_TEXT = frozenset({"reason"})
NON_NEGATIVE = frozenset(
    {
        "seq",
        "tree_size",
        "old_size",
        "new_size",
        "start_seq",
        "end_seq",
        "version",
        "page_size",
        "count",
        "member_count",
        "disability_grade",
        "member_index",
        "signs_for",
    }
)
UPPER_BOUND = {"disability_grade": 4, "member_count": 30, "page_size": 1000}


def _output_only() -> frozenset[str]:
    """Fields the proto comments mark "Output only": a server ignores them in a request
    (AIP-203), so what they hold is never a reason to refuse one."""
    found: set[str] = set()
    for proto in sorted((ROOT / "proto").rglob("*.proto")):
        package = ""
        blocks: list[str | None] = []  # message names; None for enum/oneof/service blocks
        pending = False
        for raw in proto.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if m := re.fullmatch(r"package ([\w.]+);", line):
                package = m[1]
            elif line.startswith("//"):
                pending = pending or "Output only" in line
                continue
            elif m := re.fullmatch(r"message (\w+) \{", line):
                blocks.append(m[1])
            elif line.endswith("{"):
                blocks.append(None)
            elif line == "}" and blocks:
                blocks.pop()
            elif (m := re.match(r"(?:repeated |optional )?[\w.]+ (\w+) = [0-9]+;", line)) and (
                pending and blocks and blocks[-1] is not None
            ):
                names = [b for b in blocks if b is not None]
                found.add(".".join([package, *names, m[1]]))
            pending = False
    return frozenset(found)


OUTPUT_ONLY = _output_only()


def _output_only_field(fd: FieldDescriptor) -> bool:
    return fd.full_name in OUTPUT_ONLY


def _calendar_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except (ValueError, OverflowError):
        return False
    return True


def must_refuse(request: Message) -> list[tuple[str, str]]:
    """(field path, rule) for every value issue 12 says must be refused at the boundary."""
    out: list[tuple[str, str]] = []
    for path, fd, value, parent in walk(request, skip=_output_only_field):
        name = fd.name
        if is_timestamp(fd):
            if not (TS_MIN <= value.seconds <= TS_MAX and 0 <= value.nanos <= NANOS_MAX):
                out.append((path, "timestamp outside 0001-01-01..9999-12-31"))
        elif is_date(fd):
            parts = (value.year, value.month, value.day)
            if any(parts) and not _calendar_date(*parts):
                out.append((path, "not a calendar date in years 1-9999"))
        elif fd.type == FD.TYPE_STRING:
            if name not in FREE_TEXT and any(unicodedata.category(c) == "Cc" for c in value):
                out.append((path, "control character"))
            if name in NON_PERSONAL and id_like(value):
                out.append((path, "resident ID number in a field not for personal data"))
            if (
                name == "id_number"
                and getattr(parent, "id_type", None) == common_pb2.ID_TYPE_RESIDENT_ID
                and not canonical_resident_id(value)
            ):
                out.append((path, "resident ID number not ASCII [0-9]{17}[0-9X] and valid"))
            rx = FORMATS.get(name)
            if rx is not None and not rx.fullmatch(value):
                out.append((path, f"not the documented format {rx.pattern}"))
            if name in MAX_LENGTH and len(value) > MAX_LENGTH[name]:
                out.append((path, f"longer than {MAX_LENGTH[name]} characters"))
        elif fd.type == FD.TYPE_ENUM:
            assert fd.enum_type is not None
            if value not in fd.enum_type.values_by_number:
                out.append((path, "enum number the enum does not define"))
        elif isinstance(value, int) and not isinstance(value, bool):
            if (name in NON_NEGATIVE or name.endswith("_fen")) and value < 0:
                out.append((path, "negative"))
            if name in UPPER_BOUND and value > UPPER_BOUND[name]:
                out.append((path, f"above the documented bound {UPPER_BOUND[name]}"))
    return out


def id_needles(request: Message) -> set[str]:
    """Every ID number in the request, as sent and folded to ASCII."""
    needles: set[str] = set()
    for _, fd, value, _ in walk(request):
        if fd.type == FD.TYPE_STRING and id_like(value):
            needles.add(value)
            needles.add(re.sub(r"[^0-9Xx]", "", ascii_digits(value)).upper())
    return needles
