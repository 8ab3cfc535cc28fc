"""The requester's side of one 协查, with the in-memory store and a peer without a
network: what the peer says about why it refused is taken into the requester's audit
log and outcomes only when it is a code."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import IdType, SourceKind, Subject, Window
from tests.fakes import InMemoryStore
from tests.federation_helpers import tax_ask
from tests.helpers import APPLICANT_ID
from verifier.domain.federation_ask import FederationAsk
from verifier.domain.outcomes import SourceStatus
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.ports.peer_client import PeerClient, PeerRefused, PeerReply
from verifier.domain.request_model import Purpose
from verifier.service.federation.outbound import PEER_REFUSED, OutboundAssist
from verifier.service.federation.peers import PeerTrustService
from verifier.signing.jwks import key_id

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PEER = "hedui-linzi"
KEY = Ed25519PrivateKey.generate()
KID = key_id(KEY.public_key())
ASK = tax_ask(
    Subject(IdType.RESIDENT_ID, APPLICANT_ID, "测试甲"),
    consent_from=date(2026, 1, 1),
    window=Window(date(2025, 11, 1), date(2026, 10, 31)),
)


class Refusing(PeerClient):
    """A peer that refuses every ask with ``reason``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def assist(self, peer: PeerConfig, ask: FederationAsk, timeout: float) -> PeerReply:
        raise PeerRefused(self.reason, "refused")

    async def receipt(self, peer: PeerConfig, request_id: str, timeout: float) -> bytes:
        raise PeerRefused(self.reason, "refused")


@pytest.mark.parametrize(
    ("said", "recorded"),
    [
        ("FEDERATION_SOURCE_NOT_AGREED", "FEDERATION_SOURCE_NOT_AGREED"),
        (f"申请人{APPLICANT_ID}未授权", PEER_REFUSED),
        ("REASON WITH SPACES", PEER_REFUSED),
        ("X" * 65, PEER_REFUSED),
        ("", PEER_REFUSED),
    ],
)
async def test_a_peer_refusal_reason_is_recorded_only_when_it_is_a_code(
    said: str, recorded: str
) -> None:
    store = InMemoryStore(clock=lambda: NOW)
    fed = FederationConfig(
        peers={PEER: PeerConfig(
            name=PEER, regions=("370305",), endpoint="127.0.0.1:1", ca=Path("ca.pem"),
            jwks=Path("jwks.json"), key_ids=(KID,), purposes=(Purpose.DIBAO,), sources=(),
            remote_sources=(SourceKind.TAX,),
        )}
    )  # fmt: skip
    trust = PeerTrustService(store, fed, lambda _p: {KID: KEY.public_key()}, clock=lambda: NOW)
    await trust.trust(PEER, "ops")
    outbound = OutboundAssist(
        store, trust, Refusing(said), name="hedui-gaoqing", pseudonym_key=b"k" * 32,
        clock=lambda: NOW,
    )  # fmt: skip
    result = await outbound.ask(PEER, ASK, timeout=5)
    assert [(o.status, o.reason) for o in result.outcomes] == [(SourceStatus.DENIED, recorded)]
    last = store.tables.audit[-1].body
    assert (last["outcome"], last["reason"]) == ("refused", recorded)
    assert APPLICANT_ID not in str([row.body for row in store.tables.audit])
