"""Hostile input at the API boundary (issue 12), against a real grpc.aio server on both
databases: every refusal is INVALID_ARGUMENT with a BadRequest violation naming the
field, and no row of any table is written — not even an audit entry."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from google.type import date_pb2
from hedui.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    consent_pb2,
    consent_pb2_grpc,
    verification_pb2_grpc,
)
from hedui.v1 import verification_pb2 as pb
from sqlalchemy import inspect, text

from hedui_sdk import SourceKind, SourceQuery, SourceResult
from tests.fakes import FakeAdapter, synthetic_id
from tests.helpers import SYSTEM, make_app
from verifier.api.server import RunningServer
from verifier.bootstrap import App, serve_app
from verifier.storage.uow import SqlStore

APPLICANT = synthetic_id(seq=41, born=date(1968, 2, 3))
SPOUSE = synthetic_id(seq=42, born=date(1970, 7, 8))
X_ENDING = next(
    synthetic_id(seq=s, born=date(1975, 1, 2))
    for s in range(1000)
    if synthetic_id(seq=s, born=date(1975, 1, 2)).endswith("X")
)
UNKNOWN_VID = "00000000-0000-4000-8000-000000000000"
CANONICAL = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)


class RecordingAdapter(FakeAdapter):
    """A source that remembers every ID number it was asked about."""

    def __init__(self, source: SourceKind) -> None:
        super().__init__(source, income_fen={APPLICANT: 120_000})
        self.asked: list[str] = []

    async def query(self, q: SourceQuery) -> SourceResult:
        self.asked.append(q.subject.id_number)
        return await super().query(q)


class Stack:
    def __init__(self, app: App, server: RunningServer, tax: RecordingAdapter) -> None:
        self.app = app
        self.tax = tax
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
        self.verifications = verification_pb2_grpc.VerificationServiceStub(self.channel)
        self.consents = consent_pb2_grpc.ConsentServiceStub(self.channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(self.channel)

    @staticmethod
    def md(role: str = "caseworker", user: str = "worker-1") -> tuple[tuple[str, str], ...]:
        return (("x-hedui-system", SYSTEM), ("x-hedui-user", user), ("x-hedui-role", role))

    async def rows(self) -> dict[str, int]:
        """Row counts of every table in the database."""
        assert isinstance(self.app.store, SqlStore)
        async with self.app.store.db.read_sessions() as s:
            conn = await s.connection()
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
            return {
                t: int((await s.execute(text(f'SELECT count(*) FROM "{t}"'))).scalar_one())
                for t in sorted(tables)
            }


@pytest.fixture
async def stack(database_url: str, keys_dir: Path) -> AsyncIterator[Stack]:
    tax = RecordingAdapter(SourceKind.TAX)
    app = await make_app(database_url, keys_dir, {SourceKind.TAX: tax}, real_consents=True)
    server = await serve_app(app, "127.0.0.1:0", health_interval=0.05)
    st = Stack(app, server, tax)
    yield st
    await st.channel.close()
    await server.stop(0)
    await app.aclose()


def violations(err: grpc.aio.AioRpcError) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            assert isinstance(value, bytes)
            for detail in status_pb2.Status.FromString(value).details:
                br = error_details_pb2.BadRequest()
                if detail.Unpack(br):
                    out.update({v.field: v.description for v in br.field_violations})
    return out


# ----------------------------------------------------------------------- request makers
def member(number: str, relation: int, name: str = "测试") -> pb.Member:
    return pb.Member(
        id_type=common_pb2.ID_TYPE_RESIDENT_ID,
        id_number=number,
        name=name,
        relation=cast(Any, relation),
    )


def check(*members: pb.Member, **kw: Any) -> pb.CreateVerificationRequest:
    base: dict[str, Any] = dict(
        request_id="r-1",
        case_id="CASE-1",
        authorization_id="SQ-1",
        purposes=[common_pb2.PURPOSE_DIBAO],
        household=pb.Household(
            region_code="370322",
            members=list(members) or [member(APPLICANT, common_pb2.RELATION_APPLICANT)],
        ),
        hukou_nature=common_pb2.HUKOU_NATURE_URBAN,
        wait=True,
    )
    base.update(kw)
    return pb.CreateVerificationRequest(**base)


def consent(*numbers: str, name: str = "测试", **kw: Any) -> consent_pb2.Consent:
    numbers = numbers or (APPLICANT,)
    base: dict[str, Any] = dict(
        number="SQ-1",
        region_code="370322",
        subjects=[
            consent_pb2.ConsentSubject(
                id_type=common_pb2.ID_TYPE_RESIDENT_ID,
                id_number=n,
                name=name,
                relation=common_pb2.RELATION_APPLICANT if i == 0 else common_pb2.RELATION_SPOUSE,
            )
            for i, n in enumerate(numbers)
        ],
        signatories=[
            consent_pb2.Signatory(
                id_type=common_pb2.ID_TYPE_RESIDENT_ID,
                id_number=n,
                name=name,
                role=consent_pb2.SIGNATORY_ROLE_SELF,
                signs_for=[i],
            )
            for i, n in enumerate(numbers)
        ],
        purposes=[common_pb2.PURPOSE_DIBAO],
        valid_from=date_pb2.Date(year=2026, month=1, day=1),
        evidence_sha256="ab" * 32,
        evidence_location="县民政局档案室 GQ-2026-0012",
    )
    base.update(kw)
    return consent_pb2.Consent(**base)


def consent_with_subject(**kw: Any) -> consent_pb2.Consent:
    c = consent()
    for k, v in kw.items():
        setattr(c.subjects[0], k, v)
    return c


def consent_with_signatory(**kw: Any) -> consent_pb2.Consent:
    c = consent()
    g = c.signatories[0]
    for k, v in kw.items():
        if k == "signs_for":
            del g.signs_for[:]
            g.signs_for.extend(v)
        else:
            setattr(g, k, v)
    return c


def subject_query(number: str) -> audit_pb2.QueryEntriesRequest:
    return audit_pb2.QueryEntriesRequest(
        subject=audit_pb2.SubjectFilter(id_type=common_pb2.ID_TYPE_RESIDENT_ID, id_number=number)
    )


def ts(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


# --------------------------------------------------------------------------- calling
Call = Callable[[Stack], Awaitable[Any]]


def create(req: pb.CreateVerificationRequest) -> Call:
    return lambda st: st.verifications.CreateVerification(req, metadata=st.md(), timeout=30)


def register(c: consent_pb2.Consent) -> Call:
    return lambda st: st.consents.RegisterConsent(
        consent_pb2.RegisterConsentRequest(consent=c), metadata=st.md(), timeout=10
    )


def query(req: audit_pb2.QueryEntriesRequest) -> Call:
    async def run(st: Stack) -> list[Any]:
        call = st.audit.QueryEntries(req, metadata=st.md("auditor", "auditor-1"), timeout=10)
        return [r async for r in call]

    return run


def export(req: audit_pb2.ExportEntriesRequest) -> Call:
    async def run(st: Stack) -> list[Any]:
        call = st.audit.ExportEntries(req, metadata=st.md("auditor", "auditor-1"), timeout=10)
        return [r async for r in call]

    return run


def audit_unary(method: str, req: Any) -> Call:
    return lambda st: getattr(st.audit, method)(
        req, metadata=st.md("auditor", "auditor-1"), timeout=10
    )


def verification_unary(method: str, req: Any) -> Call:
    return lambda st: getattr(st.verifications, method)(req, metadata=st.md(), timeout=10)


def watch(vid: str) -> Call:
    async def run(st: Stack) -> list[Any]:
        call = st.verifications.WatchVerification(
            pb.WatchVerificationRequest(verification_id=vid), metadata=st.md(), timeout=10
        )
        return [r async for r in call]

    return run


def consent_unary(method: str, req: Any) -> Call:
    return lambda st: getattr(st.consents, method)(req, metadata=st.md(), timeout=10)


async def refused(st: Stack, cases: Sequence[tuple[str, Call, str]]) -> None:
    """Every case is INVALID_ARGUMENT naming its field; not one row is written."""
    before = await st.rows()
    problems: list[str] = []
    for label, call, field in cases:
        try:
            await call(st)
        except grpc.aio.AioRpcError as err:
            named = violations(err)
            if err.code() is not grpc.StatusCode.INVALID_ARGUMENT or field not in named:
                problems.append(f"{label}: {err.code().name} {sorted(named)}, wanted {field}")
        else:
            problems.append(f"{label}: accepted")
    assert problems == []
    assert await st.rows() == before


# ------------------------------------------------------------- 1. ID numbers: ASCII only
def unicode_digits() -> list[str]:
    """Every Unicode decimal digit that is not ASCII 0-9."""
    return [
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if not 0x30 <= cp <= 0x39 and unicodedata.decimal(chr(cp), None) is not None
    ]


def look_alikes() -> list[str]:
    """Digit look-alikes (superscripts, circled, parenthesized…) and X look-alikes."""
    digits = [
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if unicodedata.decimal(chr(cp), None) is None
        and unicodedata.digit(chr(cp), None) is not None
    ]
    return [*digits, "x", "\uff38", "\uff58", "\u00d7", "\u2169", "\u03a7"]


def variants() -> list[tuple[str, str]]:
    """(label, number): the applicant's number with one character swapped for a
    non-ASCII digit or look-alike, at every position in turn."""
    out = []
    for n, ch in enumerate(unicode_digits() + look_alikes()):
        pos = 17 if ch in "x\uff38\uff58\u00d7\u2169\u03a7" else n % 17
        base = X_ENDING if pos == 17 else APPLICANT
        out.append((f"U+{ord(ch):04X}@{pos + 1}", base[:pos] + ch + base[pos + 1 :]))
    return out


async def test_every_unicode_digit_and_look_alike_is_refused_everywhere(stack: Stack) -> None:
    cases: list[tuple[str, Call, str]] = []
    for label, number in variants():
        cases.append(
            (
                f"check {label}",
                create(check(member(number, common_pb2.RELATION_APPLICANT))),
                "household.members[0].id_number",
            )
        )
        cases.append((f"授权书 {label}", register(consent(number)), "subjects[0].id_number"))
        cases.append((f"audit {label}", query(subject_query(number)), "subject.id_number"))
    assert len(cases) >= 3 * 700
    await refused(stack, cases)
    assert stack.tax.asked == []


async def test_a_source_only_ever_receives_the_canonical_ascii_number(stack: Stack) -> None:
    await register(consent(APPLICANT, SPOUSE))(stack)
    # One digit of the birth date swapped for the same digit in another script: int()
    # reads it, so the check digit still "matched" and the number passed validation.
    fullwidth = APPLICANT[:9] + chr(0xFF10 + int(APPLICANT[9])) + APPLICANT[10:]
    arabic_indic = APPLICANT[:15] + chr(0x0660 + int(APPLICANT[15])) + APPLICANT[16:]
    await refused(
        stack,
        [
            (
                f"check {label}",
                create(
                    check(
                        member(number, common_pb2.RELATION_APPLICANT),
                        member(SPOUSE, common_pb2.RELATION_SPOUSE),
                        request_id=f"r-{i}",
                    )
                ),
                "household.members[0].id_number",
            )
            for i, (label, number) in enumerate(
                [("fullwidth", fullwidth), ("arabic-indic", arabic_indic)]
            )
        ],
    )
    resp = await create(
        check(
            member(APPLICANT, common_pb2.RELATION_APPLICANT),
            member(SPOUSE, common_pb2.RELATION_SPOUSE),
        )
    )(stack)
    assert resp.verification.latest_report_version == 1
    assert sorted(stack.tax.asked) == sorted([APPLICANT, SPOUSE])
    assert all(CANONICAL.fullmatch(n) and n.isascii() for n in stack.tax.asked)


# ----------------------------------------------------------------------------- 2. anchors
async def test_a_trailing_newline_is_refused_in_every_identifier(stack: Stack) -> None:
    await refused(
        stack,
        [
            ("region", create(_region("370322\n")), "household.region_code"),
            ("request_id", create(check(request_id="r-1\n")), "request_id"),
            ("case_id", create(check(case_id="CASE-1\n")), "case_id"),
            ("authorization_id", create(check(authorization_id="SQ-1\n")), "authorization_id"),
            ("授权书 number", register(consent(number="SQ-1\n")), "number"),
            ("授权书 region", register(consent(region_code="370322\n")), "region_code"),
            (
                "授权书 sha256",
                register(consent(evidence_sha256="ab" * 32 + "\n")),
                "evidence_sha256",
            ),
            (
                "授权书 valid_from",
                register(consent(valid_from=date_pb2.Date(year=2026, month=2, day=30))),
                "valid_from",
            ),
            (
                "revoke number",
                consent_unary(
                    "RevokeConsent", consent_pb2.RevokeConsentRequest(number="SQ-1\n", reason="r")
                ),
                "number",
            ),
            (
                "get number",
                consent_unary("GetConsent", consent_pb2.GetConsentRequest(number="SQ-1\n")),
                "number",
            ),
            ("audit case_id", query(audit_pb2.QueryEntriesRequest(case_id="CASE-1\n")), "case_id"),
            ("audit action", query(audit_pb2.QueryEntriesRequest(action=999)), "action"),  # type: ignore[arg-type]
            (
                "audit verification_id",
                query(audit_pb2.QueryEntriesRequest(verification_id=UNKNOWN_VID + "\n")),
                "verification_id",
            ),
            (
                "get verification",
                verification_unary(
                    "GetVerification", pb.GetVerificationRequest(verification_id=UNKNOWN_VID + "\n")
                ),
                "verification_id",
            ),
        ],
    )


def _region(code: str) -> pb.CreateVerificationRequest:
    req = check()
    req.household.region_code = code
    return req


# ------------------------------------------------------- 3. every field of every RPC
BIG = 2**53
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1


def _member_with(**circumstances: Any) -> pb.CreateVerificationRequest:
    req = check()
    req.household.members[0].circumstances.CopyFrom(pb.MemberCircumstances(**circumstances))
    return req


def _deduction(**kw: Any) -> pb.CreateVerificationRequest:
    base: dict[str, Any] = dict(
        kind=common_pb2.DEDUCTION_KIND_ILLNESS, amount_fen=100, evidence_ref="INV-1"
    )
    base.update(kw)
    return check(deductions=[pb.Deduction(**base)])


def _declaration(**kw: Any) -> pb.CreateVerificationRequest:
    return check(declaration=pb.Declaration(**kw))


VERIFICATION_CASES: list[tuple[str, Call, str]] = [
    ("unknown purpose", create(check(purposes=[cast(Any, 99)])), "purposes[0]"),
    ("unknown source", create(check(sources=[cast(Any, 99)])), "sources[0]"),
    ("unknown hukou", create(check(hukou_nature=cast(Any, 99))), "hukou_nature"),
    ("unknown program", create(check(current_programs=[cast(Any, 77)])), "current_programs[0]"),
    (
        "unknown work capacity",
        create(_member_with(work_capacity=cast(Any, 99))),
        "household.members[0].circumstances.work_capacity",
    ),
    (
        "unknown supporter",
        create(_member_with(supporter=cast(Any, 99))),
        "household.members[0].circumstances.supporter",
    ),
    (
        "disability grade",
        create(_member_with(disability_grade=INT32_MAX)),
        "household.members[0].circumstances.disability_grade",
    ),
    ("negative amount", create(_deduction(amount_fen=-1)), "deductions[0].amount_fen"),
    ("huge amount", create(_deduction(amount_fen=INT64_MAX)), "deductions[0].amount_fen"),
    ("member index", create(_deduction(member_index=-1)), "deductions[0].member_index"),
    ("unknown deduction", create(_deduction(kind=cast(Any, 9))), "deductions[0].kind"),
    ("evidence ref", create(_deduction(evidence_ref="x" * 129)), "deductions[0].evidence_ref"),
    (
        "declared income",
        create(
            _declaration(
                incomes=[
                    pb.DeclaredIncome(category=common_pb2.INCOME_CATEGORY_WAGES, monthly_fen=-5)
                ]
            )
        ),
        "declaration.incomes[0].monthly_fen",
    ),
    (
        "declared asset count",
        create(
            _declaration(
                assets=[pb.DeclaredAsset(category=common_pb2.ASSET_CATEGORY_DEPOSIT, count=-1)]
            )
        ),
        "declaration.assets[0].count",
    ),
    (
        "declared members",
        create(_declaration(member_count=INT32_MAX)),
        "declaration.member_count",
    ),
    (
        "window",
        create(
            check(
                window=pb.Window(
                    start_date=date_pb2.Date(year=2026, month=0, day=1),
                    end_date=date_pb2.Date(year=2026, month=6, day=30),
                )
            )
        ),
        "window.start_date",
    ),
    ("request_id length", create(check(request_id="r" * 65)), "request_id"),
    ("case_id length", create(check(case_id="C" * 65)), "case_id"),
    ("name BEL", create(check(member(APPLICANT, 1, "测\x07试"))), "household.members[0].name"),
    ("name length", create(check(member(APPLICANT, 1, "测" * 65))), "household.members[0].name"),
    (
        "get: long id",
        verification_unary("GetVerification", pb.GetVerificationRequest(verification_id="a" * 37)),
        "verification_id",
    ),
    (
        "get: empty id",
        verification_unary("GetVerification", pb.GetVerificationRequest()),
        "verification_id",
    ),
    ("watch: not an id", watch("v" * 1000), "verification_id"),
    (
        "report: version",
        verification_unary(
            "GetReport", pb.GetReportRequest(verification_id=UNKNOWN_VID, version=-1)
        ),
        "version",
    ),
    (
        "report: uppercase id",
        verification_unary(
            "GetReport", pb.GetReportRequest(verification_id="ABCDEF00-0000-4000-8000-000000000000")
        ),
        "verification_id",
    ),
]

CONSENT_CASES: list[tuple[str, Call, str]] = [
    (
        "unknown id type",
        register(consent_with_subject(id_type=cast(Any, 42))),
        "subjects[0].id_type",
    ),
    (
        "unknown relation",
        register(consent_with_subject(relation=cast(Any, 42))),
        "subjects[0].relation",
    ),
    ("unknown role", register(consent_with_signatory(role=cast(Any, 42))), "signatories[0].role"),
    ("signs_for", register(consent_with_signatory(signs_for=[-1])), "signatories[0].signs_for"),
    (
        "signs_for huge",
        register(consent_with_signatory(signs_for=[INT32_MAX])),
        "signatories[0].signs_for",
    ),
    ("unknown source", register(consent(sources=[cast(Any, 99)])), "sources[0]"),
    ("unknown purpose", register(consent(purposes=[cast(Any, 99)])), "purposes[0]"),
    (
        "valid_from",
        register(consent(valid_from=date_pb2.Date(year=2026, month=13, day=1))),
        "valid_from",
    ),
    (
        "valid_until",
        register(consent(valid_until=date_pb2.Date(year=2027, month=1, day=0))),
        "valid_until",
    ),
    ("number length", register(consent(number="N" * 65)), "number"),
    ("location length", register(consent(evidence_location="档" * 257)), "evidence_location"),
    ("location control", register(consent(evidence_location="档案\x00")), "evidence_location"),
    (
        "revoke: reason",
        consent_unary("RevokeConsent", consent_pb2.RevokeConsentRequest(number="SQ-1", reason="")),
        "reason",
    ),
    (
        "revoke: reason length",
        consent_unary(
            "RevokeConsent", consent_pb2.RevokeConsentRequest(number="SQ-1", reason="因" * 257)
        ),
        "reason",
    ),
    ("get: empty", consent_unary("GetConsent", consent_pb2.GetConsentRequest()), "number"),
]

AUDIT_CASES: list[tuple[str, Call, str]] = [
    ("page_size cap", query(audit_pb2.QueryEntriesRequest(page_size=1001)), "page_size"),
    ("page_size negative", query(audit_pb2.QueryEntriesRequest(page_size=-1)), "page_size"),
    ("page_token", query(audit_pb2.QueryEntriesRequest(page_token="x" * 5000)), "page_token"),
    (
        "page_token seq",
        query(audit_pb2.QueryEntriesRequest(page_token="c2VxOjk5OTk5OTk5OTk5OTk5OTk5OTk5OQ==")),
        "page_token",
    ),
    (
        "start_time far",
        query(audit_pb2.QueryEntriesRequest(start_time=ts(INT64_MAX))),
        "start_time",
    ),
    (
        "start_time early",
        query(audit_pb2.QueryEntriesRequest(start_time=ts(-(2**62)))),
        "start_time",
    ),
    ("end_time nanos", query(audit_pb2.QueryEntriesRequest(end_time=ts(0, -1))), "end_time"),
    (
        "verification_id long",
        query(audit_pb2.QueryEntriesRequest(verification_id="v" * 1000)),
        "verification_id",
    ),
    ("case_id long", query(audit_pb2.QueryEntriesRequest(case_id="C" * 65)), "case_id"),
    ("actor_user", query(audit_pb2.QueryEntriesRequest(actor_user="u" * 65)), "actor_user"),
    ("actor_system", query(audit_pb2.QueryEntriesRequest(actor_system="s\x00")), "actor_system"),
    (
        "subject without type",
        query(audit_pb2.QueryEntriesRequest(subject=audit_pb2.SubjectFilter(id_number=APPLICANT))),
        "subject.id_type",
    ),
    ("export start", export(audit_pb2.ExportEntriesRequest(start_seq=BIG)), "start_seq"),
    ("export start negative", export(audit_pb2.ExportEntriesRequest(start_seq=-1)), "start_seq"),
    ("export end", export(audit_pb2.ExportEntriesRequest(end_seq=INT64_MAX)), "end_seq"),
    (
        "export end before start",
        export(audit_pb2.ExportEntriesRequest(start_seq=2, end_seq=1)),
        "end_seq",
    ),
    (
        "export beyond the log",
        export(audit_pb2.ExportEntriesRequest(start_seq=0, end_seq=BIG - 1)),
        "end_seq",
    ),
    (
        "inclusion seq",
        audit_unary("ProveInclusion", audit_pb2.ProveInclusionRequest(seq=BIG)),
        "seq",
    ),
    (
        "inclusion seq negative",
        audit_unary("ProveInclusion", audit_pb2.ProveInclusionRequest(seq=-1)),
        "seq",
    ),
    (
        "inclusion tree_size",
        audit_unary("ProveInclusion", audit_pb2.ProveInclusionRequest(seq=0, tree_size=BIG)),
        "tree_size",
    ),
    (
        "inclusion beyond the log",
        audit_unary("ProveInclusion", audit_pb2.ProveInclusionRequest(seq=10**6)),
        "seq",
    ),
    (
        "inclusion tree beyond the log",
        audit_unary("ProveInclusion", audit_pb2.ProveInclusionRequest(seq=0, tree_size=10**6)),
        "tree_size",
    ),
    (
        "consistency old",
        audit_unary("ProveConsistency", audit_pb2.ProveConsistencyRequest(old_size=BIG)),
        "old_size",
    ),
    (
        "consistency new",
        audit_unary("ProveConsistency", audit_pb2.ProveConsistencyRequest(new_size=-3)),
        "new_size",
    ),
    (
        "consistency beyond the log",
        audit_unary("ProveConsistency", audit_pb2.ProveConsistencyRequest(old_size=10**6)),
        "old_size",
    ),
    (
        "receipt id",
        audit_unary("GetReceipt", audit_pb2.GetReceiptRequest(verification_id="r" * 65)),
        "verification_id",
    ),
    (
        "receipt version",
        audit_unary(
            "GetReceipt", audit_pb2.GetReceiptRequest(verification_id=UNKNOWN_VID, version=-1)
        ),
        "version",
    ),
]


async def test_every_field_of_every_rpc_is_checked_at_the_boundary(stack: Stack) -> None:
    # One good check first, so the log and the tables are not empty.
    await register(consent(APPLICANT))(stack)
    await create(check())(stack)
    await refused(stack, VERIFICATION_CASES + CONSENT_CASES + AUDIT_CASES)


async def test_positions_are_checked_against_the_log_only_for_auditors(stack: Stack) -> None:
    # Anyone else is refused for their role (and that is audited), whatever the seq: a
    # caseworker cannot learn the log's size by probing.
    before = await stack.rows()
    for seq in (0, 10**6):
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await stack.audit.ProveInclusion(
                audit_pb2.ProveInclusionRequest(seq=seq), metadata=stack.md("caseworker")
            )
        assert ei.value.code() is grpc.StatusCode.PERMISSION_DENIED
    after = await stack.rows()
    assert after["audit_entries"] == before["audit_entries"] + 2


# ------------------------------------------------------------------------------ 4. names
@pytest.mark.parametrize("name", ["测\x07试", "测试\x00", "\x7f测试", "测\u0085试", "测\u202e试"])
async def test_one_name_rule_for_checks_and_authorizations(stack: Stack, name: str) -> None:
    await refused(
        stack,
        [
            ("check", create(check(member(APPLICANT, 1, name))), "household.members[0].name"),
            ("授权书 subject", register(consent(name=name)), "subjects[0].name"),
            ("授权书 signatory", register(consent(name=name)), "signatories[0].name"),
        ],
    )


# ---------------------------------------------------- 5. no ID number through a side door
def shaped(number: str) -> list[tuple[str, str]]:
    return [
        ("bare", number),
        ("embedded", f"CASE-{number}-01"),
        ("in digits", f"9{number}9"),
        ("lowercase x", X_ENDING[:17] + "x"),
    ]


async def test_identifier_fields_refuse_anything_shaped_like_an_id_number(stack: Stack) -> None:
    await register(consent(APPLICANT))(stack)
    cases: list[tuple[str, Call, str]] = []
    for label, value in shaped(SPOUSE):
        cases += [
            (f"case_id {label}", create(check(case_id=value)), "case_id"),
            (f"request_id {label}", create(check(request_id=value)), "request_id"),
            (
                f"authorization_id {label}",
                create(check(authorization_id=value)),
                "authorization_id",
            ),
            (
                f"evidence_ref {label}",
                create(_deduction(evidence_ref=value)),
                "deductions[0].evidence_ref",
            ),
            (f"授权书 number {label}", register(consent(number=value)), "number"),
            (
                f"授权书 location {label}",
                register(consent(evidence_location=f"档案室 {value}")),
                "evidence_location",
            ),
            (
                f"revoke number {label}",
                consent_unary(
                    "RevokeConsent", consent_pb2.RevokeConsentRequest(number=value, reason="r")
                ),
                "number",
            ),
            (
                f"revoke reason {label}",
                consent_unary(
                    "RevokeConsent",
                    consent_pb2.RevokeConsentRequest(number="SQ-1", reason=f"误录 {value}"),
                ),
                "reason",
            ),
            (
                f"get number {label}",
                consent_unary("GetConsent", consent_pb2.GetConsentRequest(number=value)),
                "number",
            ),
            (
                f"audit case_id {label}",
                query(audit_pb2.QueryEntriesRequest(case_id=value)),
                "case_id",
            ),
            (
                f"audit verification_id {label}",
                query(audit_pb2.QueryEntriesRequest(verification_id=value)),
                "verification_id",
            ),
            (
                f"audit actor_user {label}",
                query(audit_pb2.QueryEntriesRequest(actor_user=value)),
                "actor_user",
            ),
            (
                f"receipt {label}",
                audit_unary("GetReceipt", audit_pb2.GetReceiptRequest(verification_id=value)),
                "verification_id",
            ),
            (
                f"report {label}",
                verification_unary("GetReport", pb.GetReportRequest(verification_id=value)),
                "verification_id",
            ),
        ]
    await refused(stack, cases)


async def test_an_id_number_as_the_user_or_request_id_metadata_goes_nowhere(stack: Stack) -> None:
    before = await stack.rows()
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await stack.verifications.CreateVerification(check(), metadata=stack.md(user=SPOUSE))
    assert ei.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert SPOUSE not in (ei.value.details() or "")
    assert await stack.rows() == before
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await stack.verifications.GetVerification(
            pb.GetVerificationRequest(verification_id=UNKNOWN_VID),
            metadata=(*stack.md(), ("x-request-id", f"req-{SPOUSE}")),
        )
    assert ei.value.code() is grpc.StatusCode.NOT_FOUND
    echoed = dict(ei.value.trailing_metadata() or ())
    assert SPOUSE not in str(echoed.get("x-request-id", ""))


# ------------------------------------------------------------- bytes that do not parse
def raw(method: str, payload: bytes, *, stream: bool = False, role: str = "caseworker") -> Call:
    async def run(st: Stack) -> Any:
        md = st.md(role)
        channel: Any = st.channel  # untyped: raw bytes, no (de)serializer
        if stream:
            return [r async for r in channel.unary_stream(method)(payload, metadata=md)]
        return await channel.unary_unary(method)(payload, metadata=md)

    return run


def _not_utf8(request: Any, text: str) -> bytes:
    data = bytes(request.SerializeToString())
    at = data.index(text.encode())
    return data[:at] + b"\xff" * len(text.encode()) + data[at + len(text.encode()) :]


async def test_bytes_that_do_not_parse_name_their_field_instead_of_unknown(stack: Stack) -> None:
    await refused(
        stack,
        [
            (
                "check: a name that is not UTF-8",
                raw(
                    "/hedui.v1.VerificationService/CreateVerification",
                    _not_utf8(check(member(APPLICANT, 1, "测试乙")), "测试乙"),
                ),
                "household.members[0].name",
            ),
            (
                "授权书: cut short",
                raw(
                    "/hedui.v1.ConsentService/RegisterConsent",
                    consent_pb2.RegisterConsentRequest(consent=consent()).SerializeToString()[:-7],
                ),
                "consent",  # its length says more bytes than came
            ),
            (
                "watch: not UTF-8",
                raw(
                    "/hedui.v1.VerificationService/WatchVerification",
                    b"\x0a\x02\xc3\x28",
                    stream=True,
                ),
                "verification_id",
            ),
            (
                "query: not UTF-8",
                raw(
                    "/hedui.v1.AuditService/QueryEntries",
                    _not_utf8(audit_pb2.QueryEntriesRequest(case_id="CASE-1"), "CASE-1"),
                    stream=True,
                    role="auditor",
                ),
                "case_id",
            ),
        ],
    )


async def test_a_request_with_hundreds_of_bad_fields_is_still_invalid_argument(
    stack: Stack,
) -> None:
    # The status rides in trailing metadata, which clients cap at 8 KiB: sixty long
    # violations once came back as RESOURCE_EXHAUSTED from the client's own library.
    members = [member(APPLICANT[:17] + "\u00b2", 1, "测\x07试" * 10)]
    members += [member(f"{i:018d}", 3, "\x00" * 64) for i in range(29)]
    cases: list[tuple[str, Call, str]] = [
        ("thirty bad members", create(check(*members)), "household.members[0].id_number"),
        ("a million unknown sources", create(check(sources=[cast(Any, 99)] * 10**6)), "sources"),
        ("many unknown programs", register(consent(purposes=[cast(Any, 99)] * 5000)), "purposes"),
    ]
    await refused(stack, cases)
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await cases[0][1](stack)
    assert len(violations(ei.value)) <= 16 and "more" in (ei.value.details() or "")
