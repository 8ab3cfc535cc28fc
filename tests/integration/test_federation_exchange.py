"""Both sides of a 协查 with real parts: the peer is a hedui server (grpc.aio, mTLS, its
own PKI and SQLite database, fake sources), the requester its own store (SQLite and
PostgreSQL) sending through the real gRPC client with another PKI's certificate. The
requester accepts only a fragment signed by a key pinned for the peer and answering this
request; a tampered one, one signed by an unpinned key and one replayed from another
request are refused and audited, their members × sources FAILED (never NOT_FOUND); a
peer that refuses gives DENIED with its reason; a peer that is down gives FAILED, and
the same 协查 sent again once it is back is answered."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hedui.v1 import federation_pb2

from audit.export import ReceiptError
from hedui_sdk import IdType, SourceKind, Subject, Window
from tests.app_sql import audit_bodies_at
from tests.fakes import FakeAdapter
from tests.federation_helpers import (
    PEER,
    REQUESTER,
    TwoPkis,
    answering_app,
    answering_federation,
    asking_federation,
    serve_answering,
    tax_ask,
    two_pkis,
)
from tests.helpers import APPLICANT_ID, SPOUSE_ID
from tests.served import ServedStack
from tests.stores import store_under_test
from verifier.api.federation_client import GrpcPeerClient, ask_pb, verified_receipt
from verifier.api.federation_servicer import FederationServicer
from verifier.bootstrap import App, peer_published_keys
from verifier.domain.errors import PermissionDenied
from verifier.domain.federation_ask import FederationAsk
from verifier.domain.fragment import FRAGMENT_PAYLOAD_TYPE
from verifier.domain.outcomes import SourceStatus
from verifier.domain.peers import PeerConfig
from verifier.domain.ports import Store
from verifier.domain.ports.peer_client import PeerClient, PeerRefused, PeerReply
from verifier.domain.request_model import Purpose
from verifier.service.federation.outbound import FederationResult, OutboundAssist
from verifier.service.federation.peers import PeerTrustService
from verifier.signing.dsse import sign_envelope

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
T_ASK = tax_ask(
    Subject(IdType.RESIDENT_ID, APPLICANT_ID, "测试甲"),
    consent_from=date(2026, 1, 1),
    window=Window(date(2025, 11, 1), date(2026, 10, 31)),
)


@dataclass
class Sides:
    peer_app: App
    peer: ServedStack
    pkis: TwoPkis
    database_url: str
    store: Store
    outbound: OutboundAssist
    trust: PeerTrustService
    tax: FakeAdapter
    client: PeerClient

    def outbound_with(self, client: PeerClient) -> OutboundAssist:
        return OutboundAssist(
            self.store, self.trust, client, name=REQUESTER, pseudonym_key=b"r" * 32
        )

    async def requester_entries(self) -> list[dict[str, Any]]:
        return await audit_bodies_at(self.database_url)


RECEIVED: list[bytes] = []
"""Every AssistRequest the peer server received, as its bytes (reset per test)."""


class Recording(FederationServicer):
    """The real servicer, keeping each request's bytes (unknown fields included) first."""

    async def Assist(
        self, request: federation_pb2.AssistRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> federation_pb2.AssistResponse:
        RECEIVED.append(request.SerializeToString())
        return await super().Assist(request, context)


async def _serve_peer(app: App, pkis: TwoPkis, port: int = 0) -> ServedStack:
    return ServedStack(app, await serve_answering(app, pkis, port, servicer=Recording))


@pytest.fixture
async def sides(database_url: str, tmp_path: Path) -> AsyncIterator[Sides]:
    RECEIVED.clear()
    pkis = two_pkis(tmp_path)
    tax = FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 321_000})
    peer_fed = answering_federation(pkis, tmp_path, (Purpose.DIBAO,))
    peer_app = await answering_app(tmp_path, peer_fed, {SourceKind.TAX: tax})
    peer = await _serve_peer(peer_app, pkis)
    requester_fed = asking_federation(
        pkis, tmp_path, peer_app, peer.server.port,
        purposes=(Purpose.DIBAO,), remote_sources=(SourceKind.TAX,),
        # This side's agreement lets it ask about the bank; the peer's does not.
        asks_sources=(SourceKind.BANK,),
        audit_key=peer_app.auditing.verifier_key if peer_app.auditing else "",
    )  # fmt: skip
    async with store_under_test("sql", database_url, NOW) as store:
        trust = PeerTrustService(store, requester_fed, peer_published_keys)
        await trust.trust(PEER, "ops")
        client = GrpcPeerClient(
            pkis.requester.client(REQUESTER).cert, pkis.requester.client(REQUESTER).key
        )
        outbound = OutboundAssist(store, trust, client, name=REQUESTER, pseudonym_key=b"r" * 32)
        sides = Sides(
            peer_app,
            peer,
            pkis,
            database_url,
            store,
            outbound,
            trust,
            tax,
            client,
        )
        try:
            yield sides
        finally:
            await sides.peer.close()


class Tampering(PeerClient):
    """The real client, with what comes back changed on the way."""

    def __init__(self, real: PeerClient, change: Callable[[bytes], bytes]) -> None:
        self._real = real
        self._change = change

    async def assist(self, peer: PeerConfig, ask: FederationAsk, timeout: float) -> PeerReply:
        reply = await self._real.assist(peer, ask, timeout)
        return PeerReply(self._change(reply.fragment), reply.release_seq, reply.replayed)

    async def receipt(self, peer: PeerConfig, request_id: str, timeout: float) -> bytes:
        return await self._real.receipt(peer, request_id, timeout)


def _statuses(result: FederationResult) -> list[tuple[SourceStatus, str]]:
    return [(o.status, o.reason) for o in result.outcomes]


async def test_an_answer_signed_by_the_pinned_key_is_accepted_with_its_provenance(
    sides: Sides,
) -> None:
    result = await sides.outbound.ask(PEER, T_ASK, timeout=10)
    [tax] = result.outcomes
    assert tax.status is SourceStatus.FOUND
    assert tax.records[0].amount_fen == 321_000  # type: ignore[union-attr]
    assert result.fragment is not None and result.release_seq is not None
    answer = (await sides.requester_entries())[-1]
    assert (answer["action"], answer["outcome"]) == ("federation_answer", "accepted")
    assert answer["details"]["peer_release_seq"] == result.release_seq
    assert answer["details"]["envelope_sha256"] == result.fragment.envelope_sha256
    peer_rows = await sides.peer.rows("SELECT body FROM audit_entries ORDER BY seq")
    released = json.loads(bytes(peer_rows[-1][0]))
    assert released["seq"] == result.release_seq and released["request_id"] == "req-1"


def _tamper(envelope: bytes) -> bytes:
    env = json.loads(envelope)
    env["payload"] = base64.b64encode(
        base64.b64decode(env["payload"]).replace(b"321000", b"000001")
    ).decode()
    return json.dumps(env).encode()


def _resign(envelope: bytes) -> bytes:
    env = json.loads(envelope)
    body = base64.b64decode(env["payload"])
    return sign_envelope(body, FRAGMENT_PAYLOAD_TYPE, Ed25519PrivateKey.generate())


@pytest.mark.parametrize(
    ("change", "reason"),
    [(_tamper, "FRAGMENT_TAMPERED"), (_resign, "FRAGMENT_UNPINNED_KEY")],
)
async def test_a_changed_or_foreign_signed_fragment_is_refused_and_audited(
    sides: Sides, change: Callable[[bytes], bytes], reason: str
) -> None:
    outbound = sides.outbound_with(Tampering(sides.client, change))
    result = await outbound.ask(PEER, T_ASK, timeout=10)
    assert _statuses(result) == [(SourceStatus.FAILED, reason)]
    answer = (await sides.requester_entries())[-1]
    assert (answer["outcome"], answer["reason"]) == ("refused", reason)


async def test_a_fragment_replayed_from_another_request_is_refused(sides: Sides) -> None:
    first = await sides.outbound.ask(PEER, T_ASK, timeout=10)
    assert first.fragment is not None
    old = first.fragment.envelope
    outbound = sides.outbound_with(Tampering(sides.client, lambda _f: old))
    result = await outbound.ask(PEER, replace(T_ASK, request_id="req-2"), timeout=10)
    assert _statuses(result) == [(SourceStatus.FAILED, "FRAGMENT_REPLAYED")]


async def test_a_refusing_peer_gives_denied_with_its_reason(sides: Sides) -> None:
    # The 授权书 covers the bank; the peer's agreement with the requester does not.
    auth = replace(T_ASK.authorization, sources=(SourceKind.TAX, SourceKind.BANK))
    outside = replace(T_ASK, request_id="req-9", sources=(SourceKind.BANK,), authorization=auth)
    result = await sides.outbound.ask(PEER, outside, timeout=10)
    assert _statuses(result) == [(SourceStatus.DENIED, "FEDERATION_SOURCE_NOT_AGREED")]
    assert sides.tax.calls == 0


async def test_an_ask_the_peer_rejects_in_itself_is_failed_with_its_code(sides: Sides) -> None:
    """A request id reused with other content is ABORTED by the peer: asking the same again
    cannot help, so it is PEER_REJECTED_ABORTED (not retried), not PEER_UNAVAILABLE."""
    await sides.outbound.ask(PEER, T_ASK, timeout=10)
    other = replace(T_ASK, window=Window(date(2025, 1, 1), date(2025, 12, 31)))
    result = await sides.outbound.ask(PEER, other, timeout=10)
    assert _statuses(result) == [(SourceStatus.FAILED, "PEER_REJECTED_ABORTED")]
    last = (await sides.requester_entries())[-1]
    assert (last["outcome"], last["reason"]) == ("failed", "PEER_REJECTED_ABORTED")


async def test_a_peer_down_gives_failed_and_the_same_ask_is_answered_once_it_is_back(
    sides: Sides,
) -> None:
    port = sides.peer.server.port
    await sides.peer.server.stop(0)
    down = await sides.outbound.ask(PEER, T_ASK, timeout=3)
    assert _statuses(down) == [(SourceStatus.FAILED, "PEER_UNAVAILABLE")]
    assert (await sides.requester_entries())[-1]["outcome"] == "failed"
    sides.peer = await _serve_peer(sides.peer_app, sides.pkis, port)
    back = await sides.outbound.ask(PEER, T_ASK, timeout=10)
    assert [o.status for o in back.outcomes] == [SourceStatus.FOUND]


async def test_the_peer_receives_exactly_the_ask_and_nothing_uncovered(sides: Sides) -> None:
    """Every byte the peer received: the covered ask's message is exactly the ask (the
    client adds nothing); an ask the 授权书 does not cover never leaves."""
    await sides.outbound.ask(PEER, T_ASK, timeout=10)
    assert [ask_pb(T_ASK).SerializeToString()] == RECEIVED
    received = federation_pb2.AssistRequest.FromString(RECEIVED[0])
    assert [m.id_number for m in received.members] == [APPLICANT_ID]
    # Another member of the household, not in the 授权书's signatories: refused here.
    spouse = Subject(IdType.RESIDENT_ID, SPOUSE_ID, "测试乙")
    wider = replace(T_ASK, request_id="req-5", members=(*T_ASK.members, spouse))
    with pytest.raises(PermissionDenied) as caught:
        await sides.outbound.ask(PEER, wider, timeout=10)
    assert caught.value.reason == "FEDERATION_MEMBER_NOT_SIGNATORY"
    unauthorized = replace(T_ASK, request_id="req-6", purposes=(Purpose.DIBAO, Purpose.LINSHI))
    with pytest.raises(PermissionDenied):
        await sides.outbound.ask(PEER, unauthorized, timeout=10)
    assert len(RECEIVED) == 1
    assert all(SPOUSE_ID.encode() not in b and "测试乙".encode() not in b for b in RECEIVED)
    refusals = [e for e in await sides.requester_entries() if e["outcome"] == "refused"]
    assert [e["reason"] for e in refusals] == [
        "FEDERATION_MEMBER_NOT_SIGNATORY", "FEDERATION_PURPOSE_NOT_AGREED",
    ]  # fmt: skip


async def test_the_peer_gives_a_receipt_of_its_release_entry_for_this_fragment(
    sides: Sides,
) -> None:
    first = await sides.outbound.ask(PEER, T_ASK, timeout=10)
    second = await sides.outbound.ask(PEER, replace(T_ASK, request_id="req-2"), timeout=10)
    assert first.fragment is not None and second.fragment is not None
    peer = await sides.trust.trusted(PEER)
    raw = await sides.client.receipt(peer, "req-1", 10)
    receipt = verified_receipt(raw, peer, first.fragment)
    assert receipt.seq == first.release_seq
    assert receipt.body["actor"]["system"] == REQUESTER
    # The receipt of one 协查 does not prove another's fragment.
    with pytest.raises(ReceiptError):
        verified_receipt(raw, peer, second.fragment)
    with pytest.raises(PeerRefused) as caught:
        await sides.client.receipt(peer, "req-never", 10)
    assert caught.value.reason == "NOT_FOUND"
    reads = [e for e in await sides.peer.rows("SELECT body FROM audit_entries ORDER BY seq")]
    assert json.loads(bytes(reads[-1][0]))["details"]["federation"] == "receipt"
