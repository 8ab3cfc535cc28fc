"""FederationService on a real server (grpc.aio, mTLS) with its own PKI and database (on
SQLite and PostgreSQL), called by a requester holding a client certificate of another
PKI: a covered 协查 gets a fragment that verifies against the peer's published keys; a
retry gets the same fragment; what the agreement or the 授权书 does not cover is refused
with its reason and audited on the peer; a requester not yet trusted, a certificate of
the wrong CA and a malformed ask are refused before any source is asked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.type import date_pb2
from hedui.v1 import common_pb2, federation_pb2, federation_pb2_grpc, verification_pb2

from hedui_sdk import SourceKind
from tests.alerts_flow_helpers import refused
from tests.app_sql import audit_bodies
from tests.fakes.gated_source import GatedAdapter
from tests.federation_helpers import PEER, REQUESTER, verify_peer_fragment
from tests.helpers import APPLICANT_ID, make_app
from tests.served import ServedStack
from verifier.api.tls import client_credentials, server_credentials
from verifier.bootstrap import peer_published_keys, serve_app
from verifier.cli.certs import PkiLayout, init_pki
from verifier.domain.outcomes import SourceStatus
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.request_model import Purpose
from verifier.service.federation.peers import PeerTrustService
from verifier.signing.jwks import dumps_jwks, key_id


@dataclass
class Pair:
    peer: ServedStack
    tax: GatedAdapter
    trust: PeerTrustService
    requester_pki: PkiLayout
    peer_pki: PkiLayout
    stranger_pki: PkiLayout

    def channel(self, pki: PkiLayout | None = None, system: str = REQUESTER) -> grpc.aio.Channel:
        own = pki or self.requester_pki
        creds = client_credentials(
            self.peer_pki.ca.cert, own.client(system).cert, own.client(system).key
        )
        return grpc.aio.secure_channel(f"localhost:{self.peer.server.port}", creds)

    async def entries(self) -> list[dict[str, object]]:
        return await audit_bodies(self.peer.app)


@pytest.fixture
async def pair(database_url: str, keys_dir: Path, tmp_path: Path) -> AsyncIterator[Pair]:
    requester_pki = init_pki(tmp_path / "pki-r", systems=(REQUESTER,)).layout
    peer_pki = init_pki(tmp_path / "pki-p", systems=(PEER,)).layout
    stranger_pki = init_pki(tmp_path / "pki-s", systems=(REQUESTER,)).layout
    requester_key = Ed25519PrivateKey.generate().public_key()
    jwks = tmp_path / "requester-jwks.json"
    jwks.write_text(dumps_jwks([requester_key]))
    agreement = PeerConfig(
        name=REQUESTER, regions=("370322",), endpoint="localhost:1", ca=requester_pki.ca.cert,
        jwks=jwks, key_ids=(key_id(requester_key),), purposes=(Purpose.DIBAO,),
        sources=(SourceKind.TAX,),
    )  # fmt: skip
    federation = FederationConfig(
        peers={REQUESTER: agreement},
        client_cert=peer_pki.client(PEER).cert,
        client_key=peer_pki.client(PEER).key,
        regions=("370322",),
    )
    tax = GatedAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 321_000})
    app = await make_app(database_url, keys_dir, {SourceKind.TAX: tax}, federation=federation)
    # The server accepts client certificates of the requester's CA and of a stranger CA;
    # only the per-peer issuer check tells them apart.
    bundle = tmp_path / "client-cas.pem"
    bundle.write_bytes(requester_pki.ca.cert.read_bytes() + stranger_pki.ca.cert.read_bytes())
    creds = server_credentials(peer_pki.server.cert, peer_pki.server.key, bundle)
    peer = ServedStack(app, await serve_app(app, "127.0.0.1:0", credentials=creds))
    trust = PeerTrustService(app.store, federation, peer_published_keys)
    try:
        yield Pair(peer, tax, trust, requester_pki, peer_pki, stranger_pki)
    finally:
        await peer.close()


def _day(d: date) -> date_pb2.Date:
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def _ask(request_id: str = "req-1", **over: object) -> federation_pb2.AssistRequest:
    req = federation_pb2.AssistRequest(
        request_id=request_id,
        members=[federation_pb2.AssistMember(
            id_type=common_pb2.ID_TYPE_RESIDENT_ID, id_number=APPLICANT_ID, name="测试甲",
        )],
        purposes=[common_pb2.PURPOSE_DIBAO],
        sources=[common_pb2.SOURCE_KIND_TAX],
        authorization=federation_pb2.AssistAuthorization(
            number="SQ-2026-1", purposes=[common_pb2.PURPOSE_DIBAO],
            sources=[common_pb2.SOURCE_KIND_TAX], valid_from=_day(date(2026, 1, 1)),
            signed_for=[0], evidence_sha256="e" * 64,
        ),
        region="370322",
        window=verification_pb2.Window(
            start_date=_day(date(2025, 11, 1)), end_date=_day(date(2026, 10, 31))
        ),
    )  # fmt: skip
    for name, value in over.items():
        field = getattr(req, name)
        del field[:]
        field.extend(value)
    return req


async def test_a_covered_ask_is_answered_with_a_verifiable_fragment_once(pair: Pair) -> None:
    await pair.trust.trust(REQUESTER, "ops-1")
    async with pair.channel() as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        answer = await stub.Assist(_ask())
        again = await stub.Assist(_ask())
    verified = verify_peer_fragment(pair.peer.app, answer.fragment, "req-1")
    [tax] = verified.answer.outcomes
    assert tax.status is SourceStatus.FOUND
    assert verified.envelope_sha256 == answer.envelope_sha256
    assert again.replayed and again.fragment == answer.fragment and not answer.replayed
    assert pair.tax.calls == 1
    entries = await pair.entries()
    released = next(e for e in entries if e["action"] == "released")
    assert released["seq"] == answer.release_seq
    assert released["actor"]["system"] == REQUESTER  # type: ignore[index]
    assert released["request_id"] == "req-1"
    assert released["details"]["authorization_number"] == "SQ-2026-1"  # type: ignore[index]
    assert APPLICANT_ID not in json.dumps(entries, ensure_ascii=False)
    [replay] = [e for e in entries if e["action"] == "released" and e is not released]
    assert replay["details"]["replayed"] is True  # type: ignore[index]
    assert replay["details"]["release_seq"] == answer.release_seq  # type: ignore[index]


async def test_two_simultaneous_asks_with_one_request_id_get_one_answer(pair: Pair) -> None:
    await pair.trust.trust(REQUESTER, "ops-1")
    pair.tax.hold()
    async with pair.channel() as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        calls = [asyncio.ensure_future(stub.Assist(_ask())) for _ in range(2)]
        await pair.tax.arrived.wait()  # both missed the kept answer and asked the source
        pair.tax.gate.set()
        a, b = await asyncio.gather(*calls)
    assert a.fragment == b.fragment and a.release_seq == b.release_seq
    assert sorted([a.replayed, b.replayed]) == [False, True]
    released = [e for e in await pair.entries() if e["action"] == "released"]
    assert [e["details"].get("replayed", False) for e in released] == [False, True]  # type: ignore[attr-defined]
    assert released[0]["seq"] == a.release_seq


async def test_refusals_are_audited_on_the_peer_and_ask_no_source(pair: Pair) -> None:
    async with pair.channel() as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        assert await refused(stub.Assist(_ask())) == (
            grpc.StatusCode.PERMISSION_DENIED, ["PEER_NOT_TRUSTED"],
        )  # fmt: skip
        await pair.trust.trust(REQUESTER, "ops-1")
        outside = _ask("req-2", sources=[common_pb2.SOURCE_KIND_BANK])
        assert await refused(stub.Assist(outside)) == (
            grpc.StatusCode.PERMISSION_DENIED, ["FEDERATION_SOURCE_NOT_AGREED"],
        )  # fmt: skip
        bad = _ask("req-3", purposes=[common_pb2.PURPOSE_UNSPECIFIED])
        code, fields = await refused(stub.Assist(bad))
        assert code is grpc.StatusCode.INVALID_ARGUMENT and "purposes[0]" in fields
        code, fields = await refused(stub.Assist(_ask("req-5", sources=[])))
        assert code is grpc.StatusCode.INVALID_ARGUMENT and "sources" in fields
        await pair.trust.revoke(REQUESTER, "ops-2")
        assert await refused(stub.Assist(_ask("req-4"))) == (
            grpc.StatusCode.PERMISSION_DENIED, ["PEER_REVOKED"],
        )  # fmt: skip
    assert pair.tax.calls == 0
    denials = [e["reason"] for e in await pair.entries() if e["outcome"] == "deny"]
    assert denials == ["PEER_NOT_TRUSTED", "FEDERATION_SOURCE_NOT_AGREED", "PEER_REVOKED"]


async def test_a_certificate_of_another_ca_is_not_the_peer(pair: Pair) -> None:
    await pair.trust.trust(REQUESTER, "ops-1")
    async with pair.channel(pair.stranger_pki) as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        code, _ = await refused(stub.Assist(_ask()))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert pair.tax.calls == 0
