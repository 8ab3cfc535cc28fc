"""A peer's 协查 rate is one bucket for every serving process: two InboundAssist on one
database (two "processes", each with its own store and connections), asked together
more often than the agreement's rate, answer exactly the rate between them; every
refusal is RESOURCE_EXHAUSTED with FEDERATION_RATE_LIMITED, audited, with no source
asked for it. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from hedui_sdk import IdType, SourceKind, Subject, Window
from tests.fakes import FakeAdapter
from tests.federation_helpers import requester_agreement, tax_ask
from verifier.domain.errors import ResourceExhausted
from verifier.domain.fragment import FragmentAnswer
from verifier.domain.peers import FederationConfig
from verifier.service.fanout import FanOut, bind_sources
from verifier.service.federation.inbound import RATE_LIMITED, InboundAssist
from verifier.service.federation.peers import PeerTrustService
from verifier.signing.fragments import sign_fragment
from verifier.storage.engine import open_database
from verifier.storage.sealing import Sealer
from verifier.storage.uow import SqlStore

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MEMBER_ID = "370305199001011234"
OUR_KEY = Ed25519PrivateKey.generate()
THEIR_KID = "a" * 64
RATE = 3
ASKS = 8
REQUESTER = requester_agreement(THEIR_KID, rate_per_minute=RATE)
ASK = tax_ask(
    Subject(IdType.RESIDENT_ID, MEMBER_ID, "张三"),
    consent_from=date(2026, 11, 1),
    window=Window(date(2026, 5, 1), date(2026, 10, 31)),
    request_id="req-0",
)


def _sign(answer: FragmentAnswer) -> bytes:
    return sign_fragment(answer, OUR_KEY)


class Process:
    """One serving process: its own store (engine, connections, group committer)."""

    def __init__(self, url: str) -> None:
        self.store = SqlStore(open_database(url), Sealer("k1", {"k1": bytes(range(32))}))
        self.tax = FakeAdapter(SourceKind.TAX, income_fen={MEMBER_ID: 250_000})
        self.trust = PeerTrustService(
            self.store, FederationConfig(peers={REQUESTER.name: REQUESTER}),
            lambda _p: {THEIR_KID: OUR_KEY.public_key()}, clock=lambda: NOW,
        )  # fmt: skip
        self.assist = InboundAssist(
            self.store, self.trust, FanOut(bind_sources({SourceKind.TAX: self.tax}, {})),
            _sign, name="hedui-linzi", regions=("370305",), pseudonym_key=b"k" * 32, deadline_seconds=5.0,
            clock=lambda: NOW,
        )  # fmt: skip


@pytest.fixture
async def processes(database_url: str) -> AsyncIterator[tuple[Process, Process]]:
    a, b = Process(database_url), Process(database_url)
    try:
        yield a, b
    finally:
        await a.store.aclose()
        await b.store.aclose()


async def test_two_processes_together_answer_at_most_the_rate(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes
    await a.trust.trust(REQUESTER.name, "ops-1")

    async def ask(p: Process, i: int) -> str:
        try:
            await p.assist.answer(dataclasses.replace(ASK, request_id=f"req-{i}"))
        except ResourceExhausted as exc:
            return exc.reason
        return "answered"

    results = await asyncio.gather(*(ask(a if i % 2 else b, i) for i in range(ASKS)))
    assert results.count("answered") == RATE
    assert results.count(RATE_LIMITED) == ASKS - RATE
    assert a.tax.calls + b.tax.calls == RATE

    async with a.store.db.read_sessions() as s:
        bodies = [json.loads(b) for (b,) in await s.execute(text("SELECT body FROM audit_entries"))]
    refused = [e for e in bodies if e.get("reason") == RATE_LIMITED]
    assert len(refused) == ASKS - RATE
    assert all((e["action"], e["outcome"]) == ("authorize", "deny") for e in refused)
    assert MEMBER_ID not in json.dumps(bodies, ensure_ascii=False)
