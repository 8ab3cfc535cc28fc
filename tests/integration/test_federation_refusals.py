"""Refusals of FederationService calls the API fuzz found (tests/api_fuzz/federation.py),
each on a real mTLS server on both databases: a refused peer is always one audited deny
entry, whichever RPC it called."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from hedui.v1 import federation_pb2, federation_pb2_grpc

from tests.alerts_flow_helpers import refused
from tests.api_fuzz.federation import (
    ASKED_IDS,
    FederationWorld,
    assist_request,
    channel_for,
    start_peer,
)
from tests.app_sql import audit_bodies
from verifier.api.server import RunningServer
from verifier.bootstrap import App
from verifier.cli.pki import PemPair, _leaf, read_pair, write_pair


@pytest.fixture
async def peer(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[App, RunningServer, FederationWorld]]:
    app, server, world = await start_peer(database_url, tmp_path)
    try:
        yield app, server, world
    finally:
        await server.stop(0)
        await app.aclose()


@pytest.mark.parametrize(
    ("who", "reason"),
    [("untrusted", "PEER_NOT_TRUSTED"), ("unconfigured", "PEER_NOT_CONFIGURED")],
)
@pytest.mark.parametrize("request_id", ["fz-answered-1", "never-answered"])
async def test_a_receipt_refused_to_a_peer_is_one_audited_deny_entry(
    peer: tuple[App, RunningServer, FederationWorld], who: str, reason: str, request_id: str
) -> None:
    app, server, world = peer
    before = len(await audit_bodies(app))
    async with channel_for(world, who, server.port) as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        ask = federation_pb2.FederationServiceGetReceiptRequest(request_id=request_id)
        assert await refused(stub.GetReceipt(ask)) == (grpc.StatusCode.PERMISSION_DENIED, [reason])
    [entry] = (await audit_bodies(app))[before:]
    assert (entry["action"], entry["outcome"], entry["reason"]) == ("authorize", "deny", reason)
    assert entry["request_id"] == request_id
    assert entry["details"]["federation"] == "receipt"


@pytest.mark.parametrize(
    "common_name",
    [ASKED_IDS[0], "hedui gaoqing", "hedui-gaoqing\n", "测试", "-hedui"],
    ids=["id-number", "space", "newline", "non-ascii", "leading-dash"],
)
async def test_a_common_name_that_is_no_system_name_is_unauthenticated_and_not_audited(
    peer: tuple[App, RunningServer, FederationWorld], tmp_path: Path, common_name: str
) -> None:
    # The requester's CA (trusted for client certificates) issued a certificate whose
    # name is no system name — an ID number, say: it must not land in the audit log.
    app, server, world = peer
    ca = read_pair(PemPair(tmp_path / "pki-r" / "ca.pem", tmp_path / "pki-r" / "ca.key"))
    odd = PemPair(tmp_path / "odd.pem", tmp_path / "odd.key")
    write_pair(
        odd,
        _leaf(ca, common_name, usage=ExtendedKeyUsageOID.CLIENT_AUTH, san=(), days=1, now=None),
    )
    world.identities["odd"] = (odd.cert, odd.key)
    before = await audit_bodies(app)
    async with channel_for(world, "odd", server.port) as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        code, _ = await refused(stub.Assist(assist_request("odd-1", [0])))
        assert code is grpc.StatusCode.UNAUTHENTICATED
        receipt = federation_pb2.FederationServiceGetReceiptRequest(request_id="fz-answered-1")
        code, _ = await refused(stub.GetReceipt(receipt))
        assert code is grpc.StatusCode.UNAUTHENTICATED
    assert await audit_bodies(app) == before
