"""The gRPC API on a real grpc.aio server on a free port, on both databases."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from hedui.v1 import common_pb2
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter, synthetic_id, with_wrong_check_digit
from tests.helpers import APPLICANT_ID, SPOUSE_ID, SYSTEM, make_app
from tests.served import ServedStack
from verifier.api.client import Client
from verifier.bootstrap import serve_app
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import parse_jwks

Stack = ServedStack


@pytest.fixture
async def stack(database_url: str, keys_dir: Path) -> AsyncIterator[Stack]:
    adapters = {
        SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 98_000}),
        SourceKind.REAL_ESTATE: FakeAdapter(
            SourceKind.REAL_ESTATE, asset_fen={SPOUSE_ID: 30_000_000}
        ),
    }
    stack = await ServedStack.serve(await make_app(database_url, keys_dir, adapters))
    yield stack
    await stack.close()


def member(number: str, relation: Any = common_pb2.RELATION_CHILD) -> pb.Member:
    return pb.Member(
        id_type=common_pb2.ID_TYPE_RESIDENT_ID, id_number=number, name="测试", relation=relation
    )


def request(
    *members: pb.Member, request_id: str = "r-1", region: str = "370322", wait: bool = True
) -> pb.CreateVerificationRequest:
    return pb.CreateVerificationRequest(
        request_id=request_id,
        case_id="CASE-9",
        authorization_id="SQ-1",
        purposes=[common_pb2.PURPOSE_DIBAO],
        household=pb.Household(region_code=region, members=list(members)),
        wait=wait,
        hukou_nature=common_pb2.HUKOU_NATURE_URBAN,
    )


def good_request(region: str = "370322", wait: bool = True) -> pb.CreateVerificationRequest:
    return request(
        member(APPLICANT_ID, common_pb2.RELATION_APPLICANT),
        member(SPOUSE_ID, common_pb2.RELATION_SPOUSE),
        region=region,
        wait=wait,
    )


def rich_status(err: grpc.aio.AioRpcError) -> status_pb2.Status:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            assert isinstance(value, bytes)
            return status_pb2.Status.FromString(value)
    raise AssertionError("no google.rpc.Status details")


def violations(err: grpc.aio.AioRpcError) -> dict[str, str]:
    out: dict[str, str] = {}
    for detail in rich_status(err).details:
        br = error_details_pb2.BadRequest()
        if detail.Unpack(br):
            out.update({v.field: v.description for v in br.field_violations})
    return out


BAD = {
    "malformed id": (
        request(
            member(APPLICANT_ID, common_pb2.RELATION_APPLICANT),
            member(with_wrong_check_digit(SPOUSE_ID)),
        ),
        {"household.members[1].id_number"},
    ),
    "empty household": (request(), {"household.members"}),
    "31 members": (
        request(
            member(APPLICANT_ID, common_pb2.RELATION_APPLICANT),
            *(member(synthetic_id(seq=100 + i)) for i in range(30)),
        ),
        {"household.members"},
    ),
    "duplicate member": (
        request(
            member(APPLICANT_ID, common_pb2.RELATION_APPLICANT),
            member(SPOUSE_ID),
            member(SPOUSE_ID),
        ),
        {"household.members[2].id_number"},
    ),
    "unknown enum": (
        request(
            member(APPLICANT_ID, common_pb2.RELATION_APPLICANT),
            pb.Member(id_type=cast(Any, 77), id_number="X1", name="测试", relation=cast(Any, 99)),
        ),
        {"household.members[1].id_type", "household.members[1].relation"},
    ),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_bad_input_is_invalid_argument_with_field_violations_and_stores_nothing(
    stack: Stack, case: str
) -> None:
    req, fields = BAD[case]
    async with stack.client() as c:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await c.create(req)
    assert ei.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(ei.value)) == fields
    assert await stack.count("verifications") == 0
    assert await stack.count("audit_entries") == 0
    for number in (APPLICANT_ID, SPOUSE_ID):
        assert number not in (ei.value.details() or "")


async def test_end_to_end_report_verifies_with_the_published_keys(stack: Stack) -> None:
    async with stack.client() as c:
        v = await c.create(good_request())
        assert v.state == pb.VERIFICATION_STATE_DONE and v.latest_report_version == 1
        assert len(v.progress) == 4
        rep = await c.report(v.verification_id)
        keys = parse_jwks(await c.jwks())
    doc = verify_envelope(rep.envelope, keys).document
    assert doc["verification_id"] == v.verification_id
    assert rep.summary.total_income_fen == 98_000 and rep.summary.total_assets_fen == 30_000_000
    assert rep.summary.completeness == pb.COMPLETENESS_COMPLETE
    assert rep.summary.release_audit_seq == 2
    assert rep.summary.key_id in keys


async def test_watch_streams_progress_until_done(stack: Stack) -> None:
    async with stack.client() as c:
        v = await c.create(good_request(wait=False))
        events = [e async for e in c.watch(v.verification_id, timeout=20)]
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[-1] == "state_changed" and events[-1].state_changed == pb.VERIFICATION_STATE_DONE
    # Whether the watcher joined early (live events) or late (snapshot), it sees all 4.
    seen = {
        (e.source_progress.member_index, e.source_progress.source)
        for e in events
        if e.HasField("source_progress")
    }
    assert len(seen) == 4


@pytest.mark.parametrize(
    ("client_kw", "code"),
    [
        ({"user": ""}, grpc.StatusCode.UNAUTHENTICATED),
        ({"system": "unknown-system"}, grpc.StatusCode.UNAUTHENTICATED),
        ({"role": "admin"}, grpc.StatusCode.PERMISSION_DENIED),
    ],
)
async def test_unidentified_callers_are_refused(
    stack: Stack, client_kw: dict[str, str], code: grpc.StatusCode
) -> None:
    async with stack.client(**client_kw) as c:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await c.create(good_request())
    assert ei.value.code() is code
    assert await stack.count("verifications") == 0


async def test_out_of_region_is_permission_denied_with_a_reason(stack: Stack) -> None:
    async with stack.client() as c:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await c.create(good_request(region="341824"))
    assert ei.value.code() is grpc.StatusCode.PERMISSION_DENIED
    info = error_details_pb2.ErrorInfo()
    assert rich_status(ei.value).details[0].Unpack(info) and info.reason == "OUT_OF_REGION"
    assert await stack.count("audit_entries") == 1


async def test_unknown_verification_is_not_found(stack: Stack) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    async with stack.client() as c:
        for call in (c.get(unknown), c.report(unknown)):
            with pytest.raises(grpc.aio.AioRpcError) as ei:
                await call
            assert ei.value.code() is grpc.StatusCode.NOT_FOUND
        # Not a verification id at all: refused as malformed, before anything is read.
        for call in (c.get("no-such-id"), c.report("no-such-id")):
            with pytest.raises(grpc.aio.AioRpcError) as ei:
                await call
            assert ei.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert set(violations(ei.value)) == {"verification_id"}


async def test_health_and_reflection(stack: Stack) -> None:
    async with grpc.aio.insecure_channel(stack.target) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        resp = await health.Check(
            health_pb2.HealthCheckRequest(service="hedui.v1.VerificationService"), timeout=5
        )
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        names: set[str] = set()
        async for r in refl.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        ):
            names |= {s.name for s in r.list_services_response.service}
    assert {"hedui.v1.VerificationService", "hedui.v1.KeyService", "grpc.health.v1.Health"} <= names
    # Served, and listed, only where federation with peer deployments is configured.
    assert "hedui.v1.FederationService" not in names


async def test_reflection_v1_lists_and_describes_the_services(stack: Stack) -> None:
    """grpc.reflection.v1 (what grpcurl and current clients ask first), besides v1alpha.
    Its messages are v1alpha's under another package, so v1alpha's classes decode them."""
    async with grpc.aio.insecure_channel(stack.target) as ch:
        call = ch.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        asks = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="hedui.v1.AuditService"),
        ]
        answers = [r async for r in call(iter(asks), timeout=5)]
    names = {s.name for s in answers[0].list_services_response.service}
    assert {
        "hedui.v1.VerificationService",
        "hedui.v1.AuditService",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names
    assert answers[1].file_descriptor_response.file_descriptor_proto


async def test_keys_are_a_jwks(stack: Stack) -> None:
    async with stack.client() as c:
        doc = json.loads(await c.jwks())
    assert doc["keys"][0]["kty"] == "OKP" and len(doc["keys"][0]["kid"]) == 64


async def test_a_check_without_a_registered_authorization_is_refused_with_its_reason(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(
        database_url, keys_dir, {SourceKind.TAX: FakeAdapter(SourceKind.TAX)}, real_consents=True
    )
    server = await serve_app(app, "127.0.0.1:0")
    try:
        async with Client(
            f"127.0.0.1:{server.port}", user="w", role="caseworker", system=SYSTEM
        ) as c:
            with pytest.raises(grpc.aio.AioRpcError) as ei:
                await c.create(good_request())
        assert ei.value.code() is grpc.StatusCode.PERMISSION_DENIED
        info = error_details_pb2.ErrorInfo()
        assert rich_status(ei.value).details[0].Unpack(info) and info.reason == "CONSENT_MISSING"
    finally:
        await server.stop(0)
        await app.aclose()
