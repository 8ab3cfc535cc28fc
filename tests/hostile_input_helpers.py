"""Shared ground for the hostile-input tests: a real grpc.aio server on both databases
(the ``stack`` fixture), a source that records what it was asked, request makers, and
calls that expect INVALID_ARGUMENT with a BadRequest violation naming the field and no
row of any table written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
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
UNKNOWN_VID = "00000000-0000-4000-8000-000000000000"


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


def _deduction(**kw: Any) -> pb.CreateVerificationRequest:
    base: dict[str, Any] = dict(
        kind=common_pb2.DEDUCTION_KIND_ILLNESS, amount_fen=100, evidence_ref="INV-1"
    )
    base.update(kw)
    return check(deductions=[pb.Deduction(**base)])
