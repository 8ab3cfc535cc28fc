"""A federation peer without a network: answers a 协查 with a fragment signed by its key
(or refuses, or is down), can hold its answers at a gate, and records what it was sent.
Subclasses the real port (:class:`~verifier.domain.ports.peer_client.PeerClient`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import IncomeCategory, IncomeRecord, Provenance
from verifier.domain.federation_ask import FederationAsk
from verifier.domain.fragment import FragmentAnswer
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.domain.peers import PeerConfig
from verifier.domain.ports.peer_client import (
    PeerClient,
    PeerRefused,
    PeerRejected,
    PeerReply,
    PeerUnavailable,
)
from verifier.signing.fragments import sign_fragment

PEER_INCOME_FEN = 400_000
"""What the peer finds for every asked member × source: one wage record of this amount
over the ask's window."""


class SigningPeer(PeerClient):
    """``behaviour``: "answer" (a fragment signed by ``key``, release seq 77), "down"
    (PeerUnavailable), "refuse" (PeerRefused, FEDERATION_SOURCE_NOT_AGREED) or "reject"
    (PeerRejected, INVALID_ARGUMENT). ``hold``
    makes asks wait until ``gate`` is set; ``asked`` is set once an ask arrived."""

    def __init__(
        self, key: Ed25519PrivateKey, *, peer: str, requester: str, behaviour: str = "answer"
    ) -> None:
        self.key = key
        self.peer = peer
        self.requester = requester
        self.behaviour = behaviour
        self.asks: list[FederationAsk] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.asked = asyncio.Event()

    def hold(self) -> None:
        self.gate.clear()

    async def assist(self, peer: PeerConfig, ask: FederationAsk, timeout: float) -> PeerReply:
        self.asks.append(ask)
        self.asked.set()
        await self.gate.wait()
        if self.behaviour == "down":
            raise PeerUnavailable("UNAVAILABLE: connection refused")
        if self.behaviour == "refuse":
            raise PeerRefused("FEDERATION_SOURCE_NOT_AGREED", "not agreed")
        if self.behaviour == "reject":
            raise PeerRejected("INVALID_ARGUMENT", "members: must name 1 to 20")
        now = datetime.now(UTC)
        prov = Provenance("tax", "tax-peer", "1.0", "T-1", now)
        outcomes = tuple(
            SourceOutcome(
                i, kind, SourceStatus.FOUND, "tax-peer", "1.0", now,
                (IncomeRecord(IncomeCategory.WAGES, "工资", ask.window.start, ask.window.end,
                              PEER_INCOME_FEN, prov, "某公司"),),
            )
            for i in range(len(ask.members))
            for kind in ask.sources
        )  # fmt: skip
        answer = FragmentAnswer(
            peer=self.peer, requester=self.requester, requester_request_id=ask.request_id,
            peer_verification_id="0f0e0d0c-0b0a-4908-8706-050403020100",
            authorization_number=ask.authorization.number, created_at=now,
            members=tuple("3703**********0000" for _ in ask.members), outcomes=outcomes,
        )  # fmt: skip
        return PeerReply(sign_fragment(answer, self.key), 77, False)

    async def receipt(self, peer: PeerConfig, request_id: str, timeout: float) -> bytes:
        raise PeerUnavailable("this fake gives no receipts")
