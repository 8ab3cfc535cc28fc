"""Generative test over the whole gRPC API (issue 12, item 6).

Every RPC of every service in ``hedui.v1`` — found in the generated descriptors, so a new
RPC is covered the day it is added — is called on a real grpc.aio server on a free port,
with requests hypothesis builds from the message descriptors (tests/proto_strategies.py):
wholly generated ones, valid ones, near-valid ones (a valid request with one or two fields
changed, so that the checks behind the first one are reached too), ones the size of
gRPC's receive limit, and bytes the message API cannot make (a string that is not UTF-8,
a message cut short, a bad tag or varint, noise), which must be INVALID_ARGUMENT. After
every call:

* the status is never INTERNAL or UNKNOWN (nor UNIMPLEMENTED, UNAVAILABLE, DATA_LOSS, and
  a unary call never runs into its deadline), and no error is logged — an accepted check
  whose background run crashes is a crash too, even if the RPC answered OK;
* every INVALID_ARGUMENT carries a ``google.rpc.BadRequest`` whose field violations each
  name a field of the request (bytes that do not parse may name the whole, e.g. "request");
* a refusal writes nothing: INVALID_ARGUMENT and UNAUTHENTICATED change no table (row
  counts of every table and the audit log's size are compared); PERMISSION_DENIED writes
  exactly the one audit entry the design requires — outcome ``deny``, the RPC's action
  (``authorize`` for a check, ``consent_*`` for the 授权书 registry, ``audit_read`` for the
  audit log, ``report_read`` for a report) and the ErrorInfo reason — and nothing outside
  the audit log; every other refusal leaves every table outside the audit log as it was;
* input the issue says must never get through is refused with INVALID_ARGUMENT, whoever
  calls: a resident ID number that is not ASCII ``[0-9]{17}[0-9X]`` with a valid check
  digit, a control character in any field but free text, a resident ID number in a field
  that is not for personal data, a value not in its documented format (region code,
  request id, dates, SHA-256, verification id), an enum number the enum does not define,
  a timestamp outside 0001–9999, a negative count, size, index or amount, or a page size,
  disability grade or declared member count above its documented bound (a PERMISSION_DENIED
  for ROLE_NOT_ALLOWED, decided before the request is read, counts as a refusal; so does
  an item a ``partial`` request's answer lists as rejected, by its ``index``, and an item
  a SubmitBatch answer lists as REFUSED, by its ``index``, with field violations that
  each name a field of that item — the batch is accepted and the item is not run);
* a valid SubmitBatch is accepted with no item refused (and, over the run, accepted
  items are seen at all: the seed reaches the queue);
* a ``validate_only`` request writes nothing outside the audit log, whatever the answer;
* no answer is larger than a client accepts (gRPC's 4 MiB);
* no ID number from the request appears in the error text or in any audit entry written.

Fields the proto comments mark "Output only" are ignored in requests (AIP-203), so the
rules leave them out. A service the generated code has and the server does not serve
(yet) is skipped, with the reason; the day it is wired, it is fuzzed.

The server runs without its background work (poller, checkpointer, release listener):
they write on their own schedule, and a row they wrote could not be told from one the
refused call wrote. A verification's own run is awaited after each call instead.

One server per database per module: SQLite with up to 200 examples per RPC, PostgreSQL
with up to 40 (fewer for requests of one or two fields, see ``examples_for``). Hypothesis
is derandomized: the same examples on every run, in CI too. Every example runs, and each
kind of failure (rule, RPC, field) is reported once, with the first request that showed
it; strings that could be ID numbers are shown by shape only. HEDUI_FUZZ_SHRINK=1 has
hypothesis shrink each kind to a minimal request instead (minutes; a local run), and
HEDUI_FUZZ_SCALE multiplies the example counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import json
import os
import pkgutil
import re
import time
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import hedui.v1
import pytest
import structlog
import structlog.testing
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from hedui.v1 import audit_pb2, batch_pb2, common_pb2, consent_pb2
from hedui.v1 import verification_pb2 as vpb
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from hedui_sdk import IdType, SourceKind, resident_id
from tests.conftest import _fresh_pg_database
from tests.consents import consent_draft
from tests.fakes import FakeAdapter
from tests.helpers import household_draft, make_app
from tests.proto_strategies import (
    NANOS_MAX,
    TS_MAX,
    TS_MIN,
    ascii_digits,
    canonical_resident_id,
    describe,
    id_like,
    is_date,
    is_leaf,
    is_timestamp,
    message_class,
    messages,
    mutated,
    oversized,
    resolves,
    walk,
    wire_variants,
)
from verifier.api.server import RunningServer
from verifier.bootstrap import App, serve_app
from verifier.config import Principal
from verifier.domain.errors import FailedPrecondition
from verifier.domain.household import MemberDraft, Relation
from verifier.domain.ports import Caller
from verifier.storage.uow import SqlStore

# Examples per RPC on each database, for the richest requests; an RPC whose request has
# few fields gets fewer (see ``examples_for``). HEDUI_FUZZ_SCALE multiplies them all.
_SCALE = float(os.environ.get("HEDUI_FUZZ_SCALE", "1"))
EXAMPLES = {"sqlite": 200, "postgresql": 40}
CALL_TIMEOUT = 5.0
# Per RPC and database, under pytest-timeout's 120 s (a scaled-up run gets more).
BUDGET_SECONDS = 75.0 * max(1.0, _SCALE)
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
            found.extend(service.methods)
    return found


METHODS = _methods()

# Who may call what (README, DESIGN): auditors read the audit log, caseworkers do the rest.
PROPER_ROLE = {"hedui.v1.AuditService": "auditor"}
# The audit action of a PERMISSION_DENIED answer, per RPC (the service's, else the RPC's).
DENY_ACTION = {
    "hedui.v1.AuditService": "audit_read",
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


# --------------------------------------------------------------------------- the world
@dataclass
class World:
    """What exists before the first generated call: people, 授权书, checks."""

    create_ids: tuple[str, str, str]
    create_consent: str
    consents: tuple[str, ...]
    verification_ids: tuple[str, ...]
    case_ids: tuple[str, ...]


CREATE_IDS = (
    resident_id.make("370322", date(1955, 3, 9), 950),
    resident_id.make("370322", date(1957, 8, 21), 951),
    resident_id.make("370322", date(1985, 1, 30), 952),
)
B_IDS = (
    resident_id.make("341824", date(1960, 1, 1), 950),
    resident_id.make("341824", date(1962, 2, 2), 951),
)
CALLER_A = Caller(SYSTEM, "worker-1", "caseworker", ("3703",))
CALLER_B = Caller(SYSTEM_B, "worker-b", "caseworker", ("3418",))


def _members(ids: tuple[str, ...]) -> tuple[MemberDraft, ...]:
    relations = (Relation.APPLICANT, Relation.SPOUSE, Relation.CHILD)
    return tuple(
        MemberDraft(IdType.RESIDENT_ID, n, f"测试{i}", relations[i]) for i, n in enumerate(ids)
    )


async def _build_world(app: App) -> World:
    assert app.consents is not None and app.auditing is not None
    relations = (Relation.APPLICANT, Relation.SPOUSE, Relation.CHILD)
    await app.consents.register(
        CALLER_A, consent_draft("FZ-CREATE", list(zip(CREATE_IDS, relations, strict=True)))
    )
    await app.consents.register(
        CALLER_B,
        consent_draft("FZ-B", list(zip(B_IDS, relations, strict=False)), region="341824"),
    )
    vids: list[str] = []
    for n, (caller, ids, region, number) in enumerate(
        [
            (CALLER_A, CREATE_IDS, "370322", "FZ-CREATE"),
            (CALLER_A, CREATE_IDS[:2], "370322", "FZ-CREATE"),
            (CALLER_B, B_IDS, "341824", "FZ-B"),
        ]
    ):
        view = await app.service.create(
            caller,
            household_draft(
                f"setup-{n}",
                region,
                case_id=f"CASE-FZ-{n}",
                authorization_id=number,
                members=_members(ids),
            ),
            wait=True,
            wait_until=time.monotonic() + 10,
        )
        vids.append(view.record.id)
    await _settle()
    # Enough entries that small seqs and tree sizes are inside the log from the start.
    while await app.auditing.size() < 48:
        await app.consents.get(CALLER_A, "FZ-CREATE")  # one consent_read entry each
    return World(
        create_ids=CREATE_IDS,
        create_consent="FZ-CREATE",
        consents=("FZ-CREATE", "FZ-B"),
        verification_ids=tuple(vids),
        case_ids=("CASE-FZ-0", "CASE-FZ-1", "CASE-FZ-2"),
    )


async def _settle() -> list[str]:
    """Wait for every verification run to end; the names of those that did not."""
    runs = [
        t for t in asyncio.all_tasks() if t.get_name().startswith("verification-") and not t.done()
    ]
    if not runs:
        return []
    _, pending = await asyncio.wait(runs, timeout=CALL_TIMEOUT * 2)
    return [t.get_name() for t in pending]


# --------------------------------------------------------------------------- requests
class Case:
    """One generated call: how the request was made, who sends it, and the request.

    Not a dataclass: hypothesis prints a falsifying example with ``repr``, and ours shows
    the request with strings by shape (never an ID number, see ``describe``)."""

    def __init__(
        self,
        kind: str,
        who: str,
        request: Message,
        base: Message | None = None,
        change: str = "",
        wire: bytes | None = None,
    ) -> None:
        self.kind = kind  # valid | near | random | oversized | wire
        self.who = who
        self.request = request  # for "wire": what the bytes parse to, if they do
        self.base = base
        self.change = change
        self.wire = wire  # sent as they are instead of the request's serialization

    def __repr__(self) -> str:
        change = f", change={self.change}" if self.change else ""
        sent = "bytes from " if self.wire is not None else ""
        return f"Case({self.kind}, as {self.who}{change}, {sent}request={describe(self.request)})"


def _ts(d: date) -> Timestamp:
    return Timestamp(seconds=int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()))


TODAY = date.today()
PURPOSES: list[Any] = [common_pb2.PURPOSE_DIBAO + i for i in range(5)]


def _enum(number: int) -> Any:
    """An enum field's value from a drawn number (the stubs want the enum's own type)."""
    return number


CONSENT_SOURCES = [common_pb2.SOURCE_KIND_TAX, common_pb2.SOURCE_KIND_REAL_ESTATE]


_EVIDENCE_REFS = st.from_regex(r"INV-[0-9]{1,8}", fullmatch=True)
_REQUEST_IDS = st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True)
_REGISTER_NUMBERS = st.from_regex(r"RG-[A-Za-z0-9]{1,20}", fullmatch=True)
_CASE_IDS = st.from_regex(r"C-[0-9]{1,6}", fullmatch=True)
_REVOKE_NUMBERS = st.from_regex(r"RV-[A-Za-z0-9]{1,10}", fullmatch=True)
_PURPOSE_LISTS = st.lists(st.sampled_from(PURPOSES), min_size=1, unique=True)
_SOURCE_LISTS = st.lists(st.sampled_from(CONSENT_SOURCES), unique=True)


# The valid requests below set fields by what the descriptors say they are, so that they
# stay valid while the API evolves: a date is a YYYY-MM-DD string or a google.type.Date,
# "0 means the default" may be an unset optional field, a filter a string or an enum.
def _put_date(msg: Message, name: str, d: date) -> None:
    if msg.DESCRIPTOR.fields_by_name[name].type == FD.TYPE_STRING:
        setattr(msg, name, d.isoformat())
    else:
        target = getattr(msg, name)
        target.year, target.month, target.day = d.year, d.month, d.day


def _put_number(msg: Message, name: str, value: int) -> None:
    """``value``; 0 (the default) as an unset field where the field is optional."""
    if value or not msg.DESCRIPTOR.fields_by_name[name].has_presence:
        setattr(msg, name, value)


def _first_field(msg: Message, *names: str) -> str:
    return next(n for n in names if n in msg.DESCRIPTOR.fields_by_name)


@st.composite
def _windows(draw: st.DrawFn) -> vpb.Window:
    window = vpb.Window()
    if draw(st.booleans()):
        return window
    end = draw(st.dates(TODAY - timedelta(days=700), TODAY))
    _put_date(window, "start_date", draw(st.dates(end - timedelta(days=1000), end)))
    _put_date(window, "end_date", end)
    return window


@st.composite
def _create(draw: st.DrawFn, world: World) -> Message:
    n = draw(st.integers(1, 3))
    members = [
        vpb.Member(
            id_type=common_pb2.ID_TYPE_RESIDENT_ID,
            id_number=world.create_ids[i],
            name=draw(st.sampled_from(("测试甲", "王小明", "欧阳娜娜", "Li Lei"))),
            relation=(
                common_pb2.RELATION_APPLICANT,
                common_pb2.RELATION_SPOUSE,
                common_pb2.RELATION_CHILD,
            )[i],
            circumstances=vpb.MemberCircumstances(
                disability_grade=draw(st.integers(0, 4)),
                serious_illness=draw(st.booleans()),
                in_school=draw(st.booleans()),
                work_capacity=_enum(draw(st.integers(0, 2))),
                supporter=_enum(draw(st.integers(0, 3))),
            ),
        )
        for i in range(n)
    ]
    incomes = draw(st.lists(st.integers(1, 4), unique=True, max_size=4))
    assets = draw(st.lists(st.integers(1, 9), max_size=3))
    deductions = [
        vpb.Deduction(
            kind=_enum(draw(st.integers(1, 4))),
            amount_fen=draw(st.integers(0, 5_000_000)),
            evidence_ref=draw(_EVIDENCE_REFS),
            **({"member_index": draw(st.integers(0, n - 1))} if draw(st.booleans()) else {}),
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    req = vpb.CreateVerificationRequest(
        request_id=draw(_REQUEST_IDS),  # made fresh before the call (Fuzz.prepare)
        case_id=draw(st.sampled_from(world.case_ids) | _CASE_IDS),
        authorization_id=world.create_consent,
        purposes=draw(_PURPOSE_LISTS),
        household=vpb.Household(region_code="370322", members=members),
        sources=draw(_SOURCE_LISTS),
        window=draw(_windows()),
        wait=draw(st.booleans()),
        hukou_nature=draw(
            st.sampled_from((common_pb2.HUKOU_NATURE_URBAN, common_pb2.HUKOU_NATURE_RURAL))
        ),
        deductions=deductions,
        current_programs=draw(st.lists(st.sampled_from(PURPOSES), unique=True, max_size=2)),
    )
    if draw(st.booleans()):
        req.declaration.CopyFrom(
            vpb.Declaration(
                incomes=[
                    vpb.DeclaredIncome(
                        category=_enum(c), monthly_fen=draw(st.integers(0, 1_000_000))
                    )
                    for c in incomes
                ],
                assets=[
                    vpb.DeclaredAsset(
                        category=_enum(c),
                        value_fen=draw(st.integers(0, 10**9)),
                        count=draw(st.integers(0, 3)),
                    )
                    for c in assets
                ],
                member_count=draw(st.integers(0, n)),
            )
        )
    return req


@st.composite
def _register(draw: st.DrawFn) -> Message:
    region = draw(st.sampled_from(("370322", "370305")))
    people = [
        resident_id.make(region, draw(st.dates(date(1940, 1, 1), date(2000, 12, 31))), seq)
        for seq in draw(st.lists(st.integers(0, 899), min_size=1, max_size=2, unique=True))
    ]
    relations = (common_pb2.RELATION_APPLICANT, common_pb2.RELATION_SPOUSE)
    number = draw(_REGISTER_NUMBERS)  # made fresh before the call (Fuzz.prepare)
    valid_from = draw(st.dates(date(2026, 1, 1), max(TODAY, date(2026, 1, 1))))
    until = draw(st.none() | st.dates(valid_from, valid_from + timedelta(days=730)))
    request = consent_pb2.RegisterConsentRequest(
        consent=consent_pb2.Consent(
            number=number,
            region_code=region,
            subjects=[
                consent_pb2.ConsentSubject(
                    id_type=common_pb2.ID_TYPE_RESIDENT_ID,
                    id_number=p,
                    name=f"测试{i}",
                    relation=relations[i],
                )
                for i, p in enumerate(people)
            ],
            signatories=[
                consent_pb2.Signatory(
                    id_type=common_pb2.ID_TYPE_RESIDENT_ID,
                    id_number=p,
                    name=f"测试{i}",
                    role=consent_pb2.SIGNATORY_ROLE_SELF,
                    signs_for=[i],
                )
                for i, p in enumerate(people)
            ],
            sources=draw(_SOURCE_LISTS),
            purposes=draw(_PURPOSE_LISTS),
            evidence_sha256=hashlib.sha256(number.encode()).hexdigest(),
            evidence_location=f"档案 {number}",
        )
    )
    _put_date(request.consent, "valid_from", valid_from)
    if until is not None:
        _put_date(request.consent, "valid_until", until)
    return request


@st.composite
def _query(draw: st.DrawFn, world: World) -> Message:
    req = audit_pb2.QueryEntriesRequest(
        actor_system=draw(st.sampled_from(("", SYSTEM))),
        actor_user=draw(st.sampled_from(("", "worker-1", "auditor-1"))),
        case_id=draw(st.sampled_from(("", *world.case_ids))),
        verification_id=draw(st.sampled_from(("", *world.verification_ids))),
        page_size=draw(st.integers(0, 1000)),
    )
    action = req.DESCRIPTOR.fields_by_name["action"]
    if action.enum_type is not None:  # an AuditAction; 0 is "any"
        value: Any = draw(st.sampled_from(sorted(action.enum_type.values_by_number)[:6]))
    else:
        value = draw(st.sampled_from(("", "authorize", "released", "audit_read")))
    setattr(req, "action", value)  # noqa: B010 - its type differs between API versions
    if draw(st.booleans()):
        req.subject.CopyFrom(
            audit_pb2.SubjectFilter(
                id_type=common_pb2.ID_TYPE_RESIDENT_ID,
                id_number=draw(st.sampled_from(world.create_ids)),
            )
        )
    if draw(st.booleans()):
        since = getattr(req, _first_field(req, "start_time", "since"))
        since.CopyFrom(_ts(draw(st.dates(date(2020, 1, 1), TODAY))))
    if draw(st.booleans()):
        until = getattr(req, _first_field(req, "end_time", "until"))
        until.CopyFrom(_ts(draw(st.dates(TODAY, TODAY + timedelta(days=400)))))
    return req


def _revoke() -> st.SearchStrategy[Message]:
    return st.builds(
        consent_pb2.RevokeConsentRequest,
        number=_REVOKE_NUMBERS,
        reason=st.sampled_from(("assistance ended", "家庭申请撤回", "duplicate registration")),
    )


@st.composite
def _submit_batch(draw: st.DrawFn, world: World) -> Message:
    """A batch of one to three valid checks, keyed by fresh item keys (Fuzz.prepare)."""
    items = []
    for i in range(draw(st.integers(1, 3))):
        request = draw(_create(world))
        assert isinstance(request, vpb.CreateVerificationRequest)
        # A batch item runs at batch priority and keys its check by its item_key.
        request.request_id = ""
        request.wait = False
        items.append(batch_pb2.BatchItem(item_key=f"item-{i}", request=request))
    return batch_pb2.SubmitBatchRequest(request_id=draw(_REQUEST_IDS), items=items)


@st.composite
def _sizes(draw: st.DrawFn, cls: type[Message], first: str, second: str, lo: int) -> Message:
    """A position or size inside the log as set up, and a second one past it or the
    default ("latest", "up to now": 0, or unset where the field is optional)."""
    req = cls(**{first: draw(st.integers(lo, 40))})
    past = draw(st.integers(getattr(req, first) + 1, 41))
    _put_number(req, second, past if draw(st.sampled_from((False, False, True))) else 0)
    return req


@st.composite
def _versioned(draw: st.DrawFn, cls: type[Message], vids: tuple[str, ...]) -> Message:
    """A verification's report version, or the default (the latest)."""
    req = cls(verification_id=draw(st.sampled_from(vids)))
    _put_number(req, "version", draw(st.integers(0, 2)))
    return req


def _checkpoint_requests() -> st.SearchStrategy[Message]:
    fields = audit_pb2.GetCheckpointRequest.DESCRIPTOR.fields_by_name
    if "fresh" in fields:  # v0.1, before CreateCheckpoint
        return st.builds(lambda f: audit_pb2.GetCheckpointRequest(**{"fresh": f}), st.booleans())
    return st.just(audit_pb2.GetCheckpointRequest())


def valid_requests(world: World) -> dict[str, st.SearchStrategy[Message]]:
    """A valid request per RPC (valid for the world's state): the seeds of near-valid ones."""
    vids = st.sampled_from(world.verification_ids)
    valid: dict[str, st.SearchStrategy[Message]] = {
        "hedui.v1.VerificationService.CreateVerification": _create(world),
        "hedui.v1.VerificationService.GetVerification": st.builds(
            vpb.GetVerificationRequest, verification_id=vids
        ),
        "hedui.v1.VerificationService.WatchVerification": st.builds(
            vpb.WatchVerificationRequest, verification_id=vids
        ),
        "hedui.v1.VerificationService.GetReport": _versioned(
            vpb.GetReportRequest, world.verification_ids
        ),
        "hedui.v1.ConsentService.RegisterConsent": _register(),
        "hedui.v1.ConsentService.RevokeConsent": _revoke(),
        "hedui.v1.ConsentService.GetConsent": st.builds(
            consent_pb2.GetConsentRequest, number=st.sampled_from(world.consents)
        ),
        "hedui.v1.AuditService.QueryEntries": _query(world),
        "hedui.v1.BatchService.SubmitBatch": _submit_batch(world),
        "hedui.v1.AuditService.ExportEntries": _sizes(
            audit_pb2.ExportEntriesRequest, "start_seq", "end_seq", 0
        ),
        "hedui.v1.AuditService.GetCheckpoint": _checkpoint_requests(),
        "hedui.v1.AuditService.ProveInclusion": _sizes(
            audit_pb2.ProveInclusionRequest, "seq", "tree_size", 0
        ),
        "hedui.v1.AuditService.ProveConsistency": _sizes(
            audit_pb2.ProveConsistencyRequest, "old_size", "new_size", 1
        ),
        "hedui.v1.AuditService.GetReceipt": _versioned(
            audit_pb2.GetReceiptRequest, world.verification_ids
        ),
    }
    # A request without fields (ListKeys, CreateCheckpoint…) is valid as it is.
    for method in METHODS:
        if not method.input_type.fields:
            valid.setdefault(method.full_name, st.just(message_class(method.input_type)()))
    return valid


def examples_for(method: MethodDescriptor, backend: str, *, seeded: bool) -> int:
    """50 examples, and 50 more per string field and 25 per other field of the request
    (nested fields counted once), up to the backend's maximum: two integers have fewer
    edges to try than a household. Half as many for an RPC without a valid request to
    start from (``seeded``): wholly generated requests rarely get past the first check,
    and more of them add little."""
    seen: set[str] = set()

    def weight(desc: Any) -> int:
        if desc.full_name in seen:
            return 0
        seen.add(desc.full_name)
        total = 0
        for fd in desc.fields:
            if fd.type == FD.TYPE_MESSAGE and not is_leaf(fd):
                total += weight(fd.message_type)
            else:
                total += 2 if fd.type == FD.TYPE_STRING else 1
        return total

    per_field = 25 * weight(method.input_type)
    top = EXAMPLES[backend] if seeded else EXAMPLES[backend] // 2
    return max(1, int(_SCALE * min(top, top // 4 + per_field * top // 200)))


def proper_role(method: MethodDescriptor) -> str:
    return PROPER_ROLE.get(method.containing_service.full_name, "caseworker")


@st.composite
def cases(
    draw: st.DrawFn, method: MethodDescriptor, valid: st.SearchStrategy[Message] | None
) -> Case:
    proper = proper_role(method)
    others = [w for w in CALLERS if w != proper]
    who = draw(st.sampled_from([proper] * 6 + others))
    if valid is None:
        kinds = ["random"] * 7 + ["wire"]
    else:
        kinds = ["near"] * 5 + ["random"] * 3 + ["valid"] * 2 + ["oversized", "wire"]
    kind = draw(st.sampled_from(kinds))
    if kind == "random":
        return Case("random", who, draw(messages(method.input_type)))
    cls = message_class(method.input_type)
    base = cls() if valid is None else draw(valid)
    if kind == "wire":
        raw, change = draw(wire_variants(base))
        try:
            parsed = cls.FromString(raw)
        except DecodeError:
            parsed = cls()
            change += "; does not parse"
        return Case("wire", who, parsed, base, change, wire=raw)
    if kind == "valid":
        return Case("valid", who, base, base)
    req, change = draw(oversized(base) if kind == "oversized" else mutated(base))
    return Case(kind, who, req, base, change)


# --------------------------------------------------------------------------- one call
@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str = ""
    rich: status_pb2.Status | None = None
    responses: list[Message] = field(default_factory=list)

    def violations(self) -> list[error_details_pb2.BadRequest.FieldViolation]:
        out: list[error_details_pb2.BadRequest.FieldViolation] = []
        for d in self.rich.details if self.rich else ():
            br = error_details_pb2.BadRequest()
            if d.Unpack(br):
                out.extend(br.field_violations)
        return out

    def reason(self) -> str:
        for d in self.rich.details if self.rich else ():
            info = error_details_pb2.ErrorInfo()
            if d.Unpack(info):
                return str(info.reason)
        return ""


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, int]
    audit_size: int


_INDEX = re.compile(r"\[[0-9]+\]")


@dataclass
class Finding:
    rule: str
    where: str
    detail: str = ""

    def key(self, method: MethodDescriptor) -> str:
        where = _INDEX.sub("[]", self.where)
        return f"{method.name}: {self.rule} [{where}]"


class FuzzFailure(AssertionError):
    """A property of the API failed. Subclassed per kind of failure (below), so hypothesis
    reports and shrinks each kind separately instead of stopping at the first."""


_FAILURE_KINDS: dict[str, type[FuzzFailure]] = {}


def failure_kind(key: str) -> type[FuzzFailure]:
    kind = _FAILURE_KINDS.get(key)
    if kind is None:
        kind = type(f"FuzzFailure{len(_FAILURE_KINDS) + 1}", (FuzzFailure,), {"__doc__": key})
        _FAILURE_KINDS[key] = kind
    return kind


class Fuzz:
    """One server on one database, for the whole module; calls made on a loop we own."""

    def __init__(
        self,
        runner: asyncio.Runner,
        app: App,
        server: RunningServer,
        world: World,
        tables: list[str],
        backend: str,
        served: frozenset[str],
    ) -> None:
        self.runner = runner
        self.app = app
        self.server = server
        self.world = world
        self.tables = tables
        self.backend = backend
        self.served = served
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
        self.valid = valid_requests(world)
        self.stats: Counter[str] = Counter()
        self.found: dict[str, str] = {}
        self.nonce = 0
        self.accepted_items = 0  # batch items SubmitBatch accepted, in this RPC's run

    # ---------------------------------------------------------------- state
    async def snapshot(self) -> Snapshot:
        """Row counts of every table, and the audit log's size (its head), in one read."""
        assert isinstance(self.app.store, SqlStore)
        counts = [f"SELECT '{t}', count(*) FROM \"{t}\"" for t in self.tables]
        head = "SELECT '', last_seq + 1 FROM audit_head"
        async with self.app.store.db.read_sessions() as s:
            result = await s.execute(text(" UNION ALL ".join([*counts, head])))
            rows = {str(t): int(n) for t, n in result.all()}
        size = rows.pop("", 0)
        return Snapshot(rows, size)

    async def entries_since(self, size: int) -> list[dict[str, Any]]:
        assert isinstance(self.app.store, SqlStore)
        async with self.app.store.db.read_sessions() as s:
            rows = await s.execute(
                text("SELECT body FROM audit_entries WHERE seq >= :n ORDER BY seq"), {"n": size}
            )
            return [json.loads(bytes(b)) for (b,) in rows]

    async def prepare(self, method: MethodDescriptor, case: Case) -> None:
        """What a valid request presupposes. Its key is made fresh (hypothesis repeats
        draws, and a repeated key only ever reaches the replay or "already registered"
        answer), unless the key is the field that was changed; and a revocation needs an
        ACTIVE 授权书 to revoke."""
        if case.base is None:
            return
        key = FRESH_KEYS.get(method.name)
        if key is not None:
            *path, name = key.split(".")
            holders = [case.base, case.request]
            for step in path:
                holders = [getattr(holder, step) for holder in holders]
            if getattr(holders[0], name) == getattr(holders[1], name):
                self.nonce += 1
                for holder in holders:
                    setattr(holder, name, f"fz-{self.nonce:08x}")
        if isinstance(case.request, batch_pb2.SubmitBatchRequest):
            assert isinstance(case.base, batch_pb2.SubmitBatchRequest)
            # Each item key, too: a key used before links the item to that check.
            for sent, drawn in zip(case.request.items, case.base.items, strict=False):
                if sent.item_key == drawn.item_key:
                    self.nonce += 1
                    sent.item_key = drawn.item_key = f"fz-{self.nonce:08x}"
        if method.name != "RevokeConsent":
            return
        assert self.app.consents is not None
        assert isinstance(case.base, consent_pb2.RevokeConsentRequest)
        number = case.base.number
        h = zlib.crc32(number.encode())
        applicant = resident_id.make(
            "370305", date(1950, 1, 1) + timedelta(days=h % 15_000), 900 + h % 50
        )
        # Registered already when the number itself is the changed field (and drawn before).
        with contextlib.suppress(FailedPrecondition):
            await self.app.consents.register(
                CALLER_A, consent_draft(number, [(applicant, Relation.APPLICANT)], region="370305")
            )

    # ---------------------------------------------------------------- the call
    async def invoke(self, method: MethodDescriptor, case: Case) -> Outcome:
        system, user, role = CALLERS[case.who]
        md = (("x-hedui-system", system), ("x-hedui-user", user), ("x-hedui-role", role))
        path = f"/{method.containing_service.full_name}/{method.name}"
        out_cls = message_class(method.output_type)
        wire = case.wire
        kw: dict[str, Any] = {
            "request_serializer": lambda m: m.SerializeToString() if wire is None else wire,
            "response_deserializer": out_cls.FromString,
        }
        try:
            if method.client_streaming:
                requests = iter([case.request])
                if method.server_streaming:
                    responses = [
                        r
                        async for r in self.channel.stream_stream(path, **kw)(
                            requests, metadata=md, timeout=CALL_TIMEOUT
                        )
                    ]
                else:
                    responses = [
                        await self.channel.stream_unary(path, **kw)(
                            requests, metadata=md, timeout=CALL_TIMEOUT
                        )
                    ]
            elif method.server_streaming:
                call = self.channel.unary_stream(path, **kw)(
                    case.request, metadata=md, timeout=CALL_TIMEOUT
                )
                responses = [r async for r in call]
            else:
                responses = [
                    await self.channel.unary_unary(path, **kw)(
                        case.request, metadata=md, timeout=CALL_TIMEOUT
                    )
                ]
        except grpc.aio.AioRpcError as err:
            rich = None
            for key, value in err.trailing_metadata() or ():
                if key == "grpc-status-details-bin" and isinstance(value, bytes):
                    rich = status_pb2.Status.FromString(value)
            return Outcome(err.code(), err.details() or "", rich)
        return Outcome(Code.OK, responses=list(responses))

    async def check(self, method: MethodDescriptor, case: Case) -> None:
        await self.prepare(method, case)
        before = await self.snapshot()
        with structlog.testing.capture_logs() as logs:
            outcome = await self.invoke(method, case)
            stuck = await _settle()
        after = await self.snapshot()
        grew = after.audit_size != before.audit_size
        written = await self.entries_since(before.audit_size) if grew else []
        self.stats[f"{case.kind} {outcome.code.name}"] += 1
        for batch in batches(outcome):
            self.accepted_items += batch.item_count - len(batch.refusals)
        findings = judge(method, case, outcome, before, after, written, logs, stuck)
        if not findings:
            return
        key = findings[0].key(method)
        lines = [f"{f.rule} at {f.where}: {f.detail}" for f in findings]
        more = f"\n… and {len(lines) - 6} more" if len(lines) > 6 else ""
        text = (
            "\n".join(lines[:6])
            + more
            + f"\nstatus {outcome.code.name}: {describe(outcome.details)}"
        )
        if SHRINK:
            raise failure_kind(key)(text)
        shown = repr(case)
        shown = shown if len(shown) <= 1500 else shown[:1500] + " …"
        self.found.setdefault(key, f"{text}\n{shown}")


# --------------------------------------------------------------------------- the rules
def _flag(request: Message, name: str) -> bool:
    return name in request.DESCRIPTOR.fields_by_name and bool(getattr(request, name))


def rejected_items(request: Message, outcome: Outcome) -> set[str]:
    """``entries[3]``-style paths of the items a ``partial`` request's answer lists as
    refused (a repeated message field of the response whose elements carry an ``index``):
    such an answer refuses them one by one instead of refusing the whole request."""
    if outcome.code != Code.OK or not _flag(request, "partial"):
        return set()
    items = [
        fd.name for fd in request.DESCRIPTOR.fields if fd.is_repeated and fd.type == FD.TYPE_MESSAGE
    ]
    listed: set[str] = set()
    for response in outcome.responses:
        for fd, value in response.ListFields():
            if (
                fd.is_repeated
                and fd.type == FD.TYPE_MESSAGE
                and "index" in (fd.message_type.fields_by_name if fd.message_type else {})
            ):
                listed |= {f"{name}[{item.index}]" for item in value for name in items}
    return listed


def batches(outcome: Outcome) -> list[batch_pb2.Batch]:
    """The batches a SubmitBatch answer accepted (none for any other answer)."""
    return [
        r.batch
        for r in outcome.responses
        if isinstance(r, batch_pb2.SubmitBatchResponse) and outcome.code == Code.OK
    ]


def refused_batch_items(method: MethodDescriptor, outcome: Outcome) -> tuple[set[str], list[str]]:
    """``items[3]``-style paths of the items a SubmitBatch answer refused, each by its
    ``index`` with field violations naming fields of that item; and what is wrong with
    any refusal that does not keep that form (it then refuses nothing)."""
    listed: set[str] = set()
    wrong: list[str] = []
    for batch in batches(outcome):
        for refusal in batch.refusals:
            if refusal.state != batch_pb2.BATCH_ITEM_STATE_REFUSED:
                continue
            item = f"items[{refusal.index}]"
            fields = [v.field for v in refusal.violations]
            if fields and all(
                resolves(f, method.input_type) and f.startswith(item + ".") for f in fields
            ):
                listed.add(item)
            else:
                wrong.append(f"{item}: {fields}")
    return listed, wrong


def judge(
    method: MethodDescriptor,
    case: Case,
    outcome: Outcome,
    before: Snapshot,
    after: Snapshot,
    written: list[dict[str, Any]],
    logs: list[MutableMapping[str, Any]],
    stuck: list[str],
) -> list[Finding]:
    found: list[Finding] = []
    code = outcome.code
    focus = case.change.split(":")[0] if ":" in case.change else case.kind
    allowed = {Code.OK} | REFUSALS | (STREAM_ONLY if method.server_streaming else set())
    if code not in allowed:
        found.append(Finding(f"status {code.name}", focus, outcome.details[:200]))
    for event in logs:
        if event.get("log_level") in ("error", "critical"):
            what = f"{event.get('event')} ({event.get('error', '')})"
            found.append(Finding(f"error logged: {what}", focus))
    if stuck:
        found.append(Finding("verification run still running", focus, ", ".join(stuck)))

    changed = {t: after.rows[t] - before.rows.get(t, 0) for t in after.rows}
    changed = {t: d for t, d in changed.items() if d}
    grew = after.audit_size - before.audit_size
    too_large = code == Code.RESOURCE_EXHAUSTED and TOO_LARGE in outcome.details
    if too_large:
        found.append(Finding("answer larger than a client accepts (4 MiB)", focus, outcome.details))
    elif code in REFUSED_AT_BOUNDARY and (changed or grew):
        found.append(Finding(f"rows written on {code.name}", focus, f"{changed}, audit +{grew}"))
    elif code != Code.OK and code not in REFUSED_AT_BOUNDARY:
        audit = AUDIT_APPEND_TABLES if code == Code.PERMISSION_DENIED else AUDIT_TABLES
        outside = {t: d for t, d in changed.items() if t not in audit}
        if outside:
            found.append(
                Finding(f"rows written outside the audit log on {code.name}", focus, str(outside))
            )
    if code == Code.PERMISSION_DENIED:
        expected = DENY_ACTION.get(method.containing_service.full_name) or DENY_ACTION.get(
            method.name
        )
        shapes = [(e.get("action"), e.get("outcome"), e.get("reason")) for e in written]
        if (
            len(written) != 1
            or written[0].get("outcome") != "deny"
            or (expected is not None and written[0].get("action") != expected)
            or written[0].get("reason") != outcome.reason()
        ):
            found.append(
                Finding(
                    "PERMISSION_DENIED without exactly its one deny entry",
                    focus,
                    f"expected ({expected}, deny, {outcome.reason()}), wrote {shapes}",
                )
            )

    if code == Code.INVALID_ARGUMENT:
        violations = outcome.violations()
        # Bytes that do not parse at all may have no field to blame: then any name will do
        # ("request"), but there must be one.
        unparsed = case.change.endswith("does not parse")
        named = [
            v.field
            for v in violations
            if resolves(v.field, method.input_type) or (unparsed and v.field)
        ]
        if not violations or len(named) != len(violations):
            found.append(
                Finding(
                    "INVALID_ARGUMENT without field violations naming request fields",
                    focus,
                    str([v.field for v in violations]),
                )
            )
        if case.kind == "valid":
            found.append(
                Finding(
                    "valid request refused",
                    focus,
                    str([(v.field, v.description) for v in violations]),
                )
            )

    if case.change.endswith("does not parse") and code != Code.INVALID_ARGUMENT:
        found.append(Finding(f"bytes that do not parse answered {code.name}", focus))
    refused = (code in REFUSED_AT_BOUNDARY | {Code.RESOURCE_EXHAUSTED} and not too_large) or (
        code == Code.PERMISSION_DENIED and outcome.reason() == "ROLE_NOT_ALLOWED"
    )
    refused_items, badly_refused = refused_batch_items(method, outcome)
    if badly_refused:
        found.append(
            Finding(
                "batch item refused without field violations naming its fields",
                focus,
                "; ".join(badly_refused)[:200],
            )
        )
    if case.kind == "valid" and any(b.refusals for b in batches(outcome)):
        shown = [(r.index, [v.field for v in r.violations], r.reason) for b in batches(outcome)
                 for r in b.refusals]  # fmt: skip
        found.append(Finding("valid batch item refused", focus, str(shown)[:200]))
    if not refused:
        listed = rejected_items(case.request, outcome) | refused_items
        for where, rule in must_refuse(case.request):
            if where.split(".")[0] not in listed:
                found.append(Finding(f"not refused: {rule}", where, f"answered {code.name}"))
    if _flag(case.request, "validate_only"):
        outside = {t: d for t, d in changed.items() if t not in AUDIT_APPEND_TABLES}
        if outside:
            found.append(Finding("validate_only wrote rows", focus, str(outside)))

    needles = id_needles(case.request)
    if needles:
        said = outcome.details + " ".join(
            f"{v.field} {v.description}" for v in outcome.violations()
        )
        if any(n in said for n in needles):
            found.append(Finding("ID number in the error text", focus))
        bodies = json.dumps(written, ensure_ascii=False)
        if any(n in bodies for n in needles):
            found.append(Finding("ID number in an audit entry", focus))
    return found


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def fuzz(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_template: str | None,
) -> Iterator[Fuzz]:
    kind = str(request.param)
    tmp = tmp_path_factory.mktemp(f"fuzz-{kind}")
    if kind == "sqlite":
        from verifier.storage.migrate import upgrade

        url = f"sqlite:///{tmp}/hedui.db"
        upgrade(url)
        urls: Iterator[str] = iter([url])
    else:
        urls = _fresh_pg_database(pg_template)
    url = next(urls)
    with asyncio.Runner() as runner:
        app, server, world, tables, served = runner.run(_start(url, tmp / "keys"))
        fz = Fuzz(runner, app, server, world, tables, kind, served)
        try:
            yield fz
        finally:
            runner.run(_stop(fz))
    for _ in urls:  # drops the PostgreSQL database
        pass


async def _start(
    url: str, keys: Path
) -> tuple[App, RunningServer, World, list[str], frozenset[str]]:
    principals = {
        SYSTEM: Principal(SYSTEM, ("caseworker", "reviewer", "auditor"), ("3703",)),
        SYSTEM_B: Principal(SYSTEM_B, ("caseworker",), ("3418",)),
    }
    adapters = {
        SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={CREATE_IDS[0]: 98_000}),
        SourceKind.REAL_ESTATE: FakeAdapter(
            SourceKind.REAL_ESTATE, asset_fen={CREATE_IDS[1]: 30_000_000}
        ),
    }
    app = await make_app(
        url,
        keys,
        adapters,
        real_consents=True,
        principals=principals,
        volume_soft=10**6,
        volume_hard=10**6,
    )
    # No background writers (see the module docstring): serve_app starts them, so not here.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app, "start_background", lambda: None)
        server = await serve_app(app, "127.0.0.1:0", health_interval=3600)
    world = await _build_world(app)
    served = await _served(server.port)
    assert isinstance(app.store, SqlStore)
    async with app.store.db.read_sessions() as s:
        tables = await s.run_sync(lambda sync: inspect(sync.connection()).get_table_names())
    return app, server, world, sorted(tables), served


async def _served(port: int) -> frozenset[str]:
    """The services the server says (by reflection) it serves."""
    names: set[str] = set()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        ask = reflection_pb2.ServerReflectionRequest(list_services="")
        async for answer in stub.ServerReflectionInfo(iter([ask]), timeout=CALL_TIMEOUT):
            names |= {s.name for s in answer.list_services_response.service}
    return frozenset(names)


async def _stop(fz: Fuzz) -> None:
    await fz.channel.close()
    await fz.server.stop(0)
    await fz.app.aclose()


# --------------------------------------------------------------------------- the test
@pytest.mark.parametrize(
    "method", METHODS, ids=[f"{m.containing_service.name}.{m.name}" for m in METHODS]
)
def test_generated_requests_never_crash_and_refusals_write_nothing(
    fuzz: Fuzz, method: MethodDescriptor
) -> None:
    service = method.containing_service.full_name
    if service not in fuzz.served:
        # Wiring a new service is its own change; from then on it is fuzzed here.
        pytest.skip(f"{service} is in the generated API but this server does not serve it")
    strategy = cases(method, fuzz.valid.get(method.full_name))
    fuzz.stats.clear()
    fuzz.accepted_items = 0
    started = time.monotonic()

    @settings(
        max_examples=examples_for(method, fuzz.backend, seeded=method.full_name in fuzz.valid),
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
        phases=PHASES,
    )
    @given(strategy)
    def run(case: Case) -> None:
        # Past the budget (calls running into their deadline), the remaining examples are
        # dropped rather than holding up the suite; failures found so far are reported.
        assume(time.monotonic() - started < BUDGET_SECONDS)
        fuzz.runner.run(fuzz.check(method, case))

    fuzz.found.clear()
    try:
        run()
    finally:
        total = sum(fuzz.stats.values())
        print(
            f"\n{method.full_name}: {total} calls in {time.monotonic() - started:.1f}s; "
            + ", ".join(f"{k} {n}" for k, n in sorted(fuzz.stats.items()))
            + (f"; {fuzz.accepted_items} batch items accepted" if fuzz.accepted_items else "")
        )
    if method.full_name == "hedui.v1.BatchService.SubmitBatch":
        # The seed must reach the queue, or the fuzz only ever sees refusals.
        assert fuzz.accepted_items > 0, f"no batch item accepted: {dict(fuzz.stats)}"
    if fuzz.found:
        pytest.fail(
            f"{len(fuzz.found)} kinds of failure in {total} calls:\n\n"
            + "\n\n".join(f"[{key}]\n{text}" for key, text in sorted(fuzz.found.items())),
            pytrace=False,
        )
