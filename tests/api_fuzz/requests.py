"""The generated calls: valid requests per RPC (the seeds), near-valid, random and wire ones."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from hedui.v1 import audit_pb2, batch_pb2, common_pb2, consent_pb2
from hedui.v1 import verification_pb2 as vpb
from hypothesis import strategies as st

from hedui_sdk import resident_id
from tests.api_fuzz.api import CALLERS, EXAMPLES, FD, METHODS, PROPER_ROLE, SCALE, SYSTEM
from tests.api_fuzz.world import World
from tests.proto_strategies import (
    describe,
    is_leaf,
    message_class,
    messages,
    mutated,
    oversized,
    wire_variants,
)


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
# A member's 户籍 region: mostly the household's, sometimes another province's or its own.
_HUKOU_REGIONS = st.sampled_from(("", "", "370322", "110101", "440305"))
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
            hukou_region_code=draw(_HUKOU_REGIONS),
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
    return max(1, int(SCALE * min(top, top // 4 + per_field * top // 200)))


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
