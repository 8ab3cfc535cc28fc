"""The 协查's own deadline bounds its sources' time (federation.proto, Assist): on a real
mTLS server on both databases, a source that does not answer within the requester's
deadline is FAILED in a fragment that arrives before it, not a DEADLINE_EXCEEDED call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hedui.v1 import common_pb2, federation_pb2_grpc

from hedui_sdk import SourceKind
from tests.api_fuzz.federation import (
    ASKED_IDS,
    FederationWorld,
    assist_request,
    channel_for,
    start_peer,
)
from tests.fakes.gated_source import GatedAdapter
from tests.federation_helpers import verify_peer_fragment
from verifier.api.server import RunningServer
from verifier.bootstrap import App
from verifier.domain.outcomes import SourceStatus

Peer = tuple[App, RunningServer, FederationWorld, GatedAdapter]


@pytest.fixture
async def peer(database_url: str, tmp_path: Path) -> AsyncIterator[Peer]:
    tax = GatedAdapter(SourceKind.TAX, income_fen={ASKED_IDS[0]: 321_000}, expected=1)
    app, server, world = await start_peer(database_url, tmp_path, {SourceKind.TAX: tax})
    try:
        yield app, server, world, tax
    finally:
        tax.gate.set()
        await server.stop(0)
        await app.aclose()


async def test_a_source_slower_than_the_call_is_failed_in_an_answer_within_it(
    peer: Peer,
) -> None:
    app, server, world, tax = peer
    tax.hold()
    loop = asyncio.get_running_loop()
    async with channel_for(world, "peer", server.port) as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        started = loop.time()
        # The peer's own limit (deadline_seconds, 30 s) is far beyond this call's.
        answer = await stub.Assist(
            assist_request("slow-1", [0], sources=(common_pb2.SOURCE_KIND_TAX,)), timeout=3.0
        )
        took = loop.time() - started
    assert tax.arrived.is_set() and took < 3.0
    verified = verify_peer_fragment(app, answer.fragment, "slow-1")
    [tax_outcome] = verified.answer.outcomes
    assert tax_outcome.status is SourceStatus.FAILED
