"""A check some of whose members a peer answers, at the service level: the requester is a
whole hedui app (SQLite and PostgreSQL) calling through the real gRPC client over mTLS;
the peer is another hedui app with its own PKI, SQLite database and sources, served by a
real grpc.aio server with the real InboundAssist behind it.

The member whose 户籍 is at the peer is asked there; the report shows which deployment
answered, embeds the peer's fragment and counts its records. A peer that is down gives
FAILED and AWAITING_SOURCES, then, once it is back and the retrier asks again, a new
version with its answer; a peer that never comes back gives up with PEER_DEADLINE_PASSED
after the agreement's working days. A check that routes nothing to a peer is the same as
without federation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hedui_sdk import SourceKind
from tests.consents import consent_draft
from tests.fakes import FakeAdapter
from tests.federation_helpers import (
    PEER,
    PEER_REGION,
    TwoPkis,
    answering_app,
    answering_federation,
    asking_federation,
    serve_answering,
    spouse_at_peer,
    two_pkis,
)
from tests.helpers import APPLICANT_ID, CALLER, SPOUSE_ID, make_app, soon
from tests.served import ServedStack
from verifier.api.translate import verification_pb
from verifier.bootstrap import App, peer_published_keys
from verifier.domain.household import Relation
from verifier.domain.outcomes import VerificationState
from verifier.domain.request_model import Purpose
from verifier.service.events import StateEvent
from verifier.service.federation.peers import PeerTrustService
from verifier.service.federation.retrier import PeerRetrier

PURPOSES = (Purpose.DIBAO, Purpose.LINSHI)


@dataclass
class Pair:
    requester: App
    peer_app: App
    pkis: TwoPkis
    port: int
    peer_tax: FakeAdapter
    local_tax: FakeAdapter
    served: ServedStack | None = None

    async def serve_peer(self) -> None:
        """Serve the peer (again) on its port."""
        server = await serve_answering(self.peer_app, self.pkis, self.port)
        self.port = server.port
        self.served = ServedStack(self.peer_app, server)

    async def stop_peer(self) -> None:
        if self.served is not None:
            await self.served.server.stop(0)
            self.served = None

    def retrier(self, later: timedelta) -> PeerRetrier:
        """A retrier of the requester whose clock is ``later`` than now."""
        assert self.requester.retrier is not None
        return PeerRetrier(
            self.requester.store,
            self.requester.retrier.requester,
            self.requester.service.release_federated,
            owner="test-retrier",
            clock=lambda: datetime.now(UTC) + later,
        )


@pytest.fixture
async def pair(database_url: str, tmp_path: Path) -> AsyncIterator[Pair]:
    pkis = two_pkis(tmp_path)
    peer_tax = FakeAdapter(SourceKind.TAX, income_fen={SPOUSE_ID: 321_000})
    peer_fed = answering_federation(pkis, tmp_path, PURPOSES)
    peer_app = await answering_app(tmp_path, peer_fed, {SourceKind.TAX: peer_tax})
    pair = Pair(
        requester=None,  # type: ignore[arg-type]  # set below, once the peer's port is known
        peer_app=peer_app,
        pkis=pkis,
        port=0,
        peer_tax=peer_tax,
        local_tax=FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100_000}),
    )
    await pair.serve_peer()
    requester_fed = asking_federation(
        pkis, tmp_path, peer_app, pair.port,
        purposes=PURPOSES, deadline_working_days=2, asks_sources=(SourceKind.TAX,),
        retry_interval_seconds=0.05,
    )  # fmt: skip
    pair.requester = await make_app(
        database_url, tmp_path / "keys", {SourceKind.TAX: pair.local_tax}, federation=requester_fed
    )
    await PeerTrustService(pair.requester.store, requester_fed, peer_published_keys).trust(
        PEER, "ops"
    )
    assert pair.requester.consents is not None
    await pair.requester.consents.register(
        CALLER,
        consent_draft(
            "SQ-2026-001",
            [(APPLICANT_ID, Relation.APPLICANT), (SPOUSE_ID, Relation.SPOUSE)],
            sources=(SourceKind.TAX,),
        ),
    )
    try:
        yield pair
    finally:
        await pair.stop_peer()
        await pair.requester.aclose()
        await peer_app.aclose()


def _doc(envelope: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    return doc


async def _check(
    pair: Pair, request_id: str, spouse_region: str = PEER_REGION
) -> tuple[str, VerificationState]:
    view = await pair.requester.service.create(
        CALLER, spouse_at_peer(request_id, spouse_region), wait=True, wait_until=soon(30)
    )
    return view.record.id, view.record.state


async def _report(pair: Pair, vid: str) -> tuple[dict[str, Any], VerificationState]:
    stored = await pair.requester.service.get_report(CALLER, vid, 0)
    view = await pair.requester.service.view(vid)
    return _doc(stored.envelope), view.record.state


def _sources(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {s["member_index"]: s for s in doc["sources"]}


def _assert_peer_answered(doc: dict[str, Any]) -> None:
    """The spouse's tax answer is the peer's, with its fragment embedded and counted."""
    local, remote = _sources(doc)[0], _sources(doc)[1]
    assert "deployment" not in local and local["status"] == "FOUND"
    assert (remote["status"], remote["deployment"]) == ("FOUND", PEER)
    [fragment] = doc["fragments"]
    assert remote["fragment_sha256"] == fragment["envelope_sha256"]
    assert fragment["peer"] == PEER
    envelope = base64.b64decode(fragment["envelope"])
    assert hashlib.sha256(envelope).hexdigest() == fragment["envelope_sha256"]
    income = {m["member_index"]: m["income_fen"] for m in doc["totals"]["by_member"]}
    assert income == {0: 100_000, 1: 321_000}
    # The assessment uses the peer's answer like any other source's.
    assert doc["aggregates"]["income_fen"]["total"] == 421_000
    assert [m["income_fen"]["total"] for m in doc["aggregates"]["members"]] == [100_000, 321_000]


async def _answered_by(pair: Pair, vid: str) -> dict[int, str]:
    """Each member's answering deployment as progress (GetVerification, the console's
    grid) shows it."""
    view = await pair.requester.service.view(vid)
    progress = verification_pb(view).progress
    assert {p.deployment for p in progress} == {p.deployment for p in view.progress}
    return {p.member_index: p.deployment for p in view.progress}


async def test_a_member_whose_huji_is_at_the_peer_is_answered_there(pair: Pair) -> None:
    vid, state = await _check(pair, "fed-1")
    doc, _ = await _report(pair, vid)
    assert state is VerificationState.DONE and doc["version"] == 1
    _assert_peer_answered(doc)
    # A closed check's progress (read from its report's summary) names the peer too.
    assert await _answered_by(pair, vid) == {0: "", 1: PEER}
    # Each side asked its own source about its own member only.
    assert (pair.local_tax.calls, pair.peer_tax.calls) == (1, 1)
    assert pair.requester.retrier is not None
    assert await pair.retrier(timedelta(days=30)).tick() == 0


async def test_a_peer_that_is_down_is_failed_then_a_new_version_once_it_answers(
    pair: Pair,
) -> None:
    await pair.stop_peer()
    vid, state = await _check(pair, "fed-down")
    doc, _ = await _report(pair, vid)
    assert state is VerificationState.AWAITING_SOURCES and doc["version"] == 1
    spouse = _sources(doc)[1]
    assert (spouse["status"], spouse["reason"], spouse["deployment"]) == (
        "FAILED", "PEER_UNAVAILABLE", PEER,
    )  # fmt: skip
    assert "fragments" not in doc
    assert await _answered_by(pair, vid) == {0: "", 1: PEER}
    # Still down: asked again, nothing released, still waiting.
    assert await pair.retrier(timedelta(minutes=1)).tick() == 1
    doc, state = await _report(pair, vid)
    assert (doc["version"], state) == (1, VerificationState.AWAITING_SOURCES)
    await pair.serve_peer()
    assert await pair.retrier(timedelta(hours=2)).tick() == 1
    doc, state = await _report(pair, vid)
    assert (doc["version"], state) == (2, VerificationState.DONE)
    _assert_peer_answered(doc)
    assert pair.peer_tax.calls == 1


async def test_the_servers_background_asks_the_peer_again(pair: Pair) -> None:
    """What ``hedui serve`` runs: the retrier in the app's background, no tick by hand."""
    await pair.stop_peer()
    vid, state = await _check(pair, "fed-background")
    assert state is VerificationState.AWAITING_SOURCES
    await pair.serve_peer()
    pair.requester.start_background()
    async with asyncio.timeout(30):
        async for event in pair.requester.service.watch(CALLER, vid):
            if isinstance(event, StateEvent) and event.state is VerificationState.DONE:
                break
    doc, state = await _report(pair, vid)
    assert (doc["version"], state) == (2, VerificationState.DONE)
    _assert_peer_answered(doc)


async def test_a_peer_that_never_answers_is_given_up_after_the_deadline(pair: Pair) -> None:
    await pair.stop_peer()
    vid, _ = await _check(pair, "fed-late")
    assert await pair.retrier(timedelta(days=30)).tick() == 1
    doc, state = await _report(pair, vid)
    assert (doc["version"], state) == (2, VerificationState.DONE)
    spouse = _sources(doc)[1]
    assert (spouse["status"], spouse["reason"]) == ("FAILED", "PEER_DEADLINE_PASSED")
    assert await pair.retrier(timedelta(days=30)).tick() == 0


async def test_a_revoked_authorization_stops_the_asks_and_closes_the_check(pair: Pair) -> None:
    """The 授权书 is revoked while the peer is down: the peer, back, is not asked again;
    the spouse is DENIED as a local check would be and the check is DONE."""
    await pair.stop_peer()
    vid, state = await _check(pair, "fed-revoked")
    assert state is VerificationState.AWAITING_SOURCES
    assert pair.requester.consents is not None
    await pair.requester.consents.revoke(CALLER, "SQ-2026-001", "withdrawn")
    await pair.serve_peer()
    assert await pair.retrier(timedelta(minutes=1)).tick() == 1
    doc, state = await _report(pair, vid)
    assert (doc["version"], state) == (2, VerificationState.DONE)
    spouse = _sources(doc)[1]
    assert (spouse["status"], spouse["reason"], spouse["deployment"]) == (
        "DENIED", "CONSENT_REVOKED", PEER,
    )  # fmt: skip
    assert pair.peer_tax.calls == 0
    assert await pair.retrier(timedelta(days=30)).tick() == 0


async def test_a_check_routing_nothing_to_a_peer_is_a_local_check(pair: Pair) -> None:
    vid, state = await _check(pair, "fed-local", spouse_region="")
    doc, _ = await _report(pair, vid)
    assert state is VerificationState.DONE
    assert "fragments" not in doc
    assert all("deployment" not in s for s in doc["sources"])
    assert (pair.local_tax.calls, pair.peer_tax.calls) == (2, 0)


async def test_without_peers_nothing_is_routed(database_url: str, keys_dir: Path) -> None:
    """A member's 户籍 region elsewhere changes nothing where no peer is configured."""
    tax = FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100_000})
    app = await make_app(database_url, keys_dir, {SourceKind.TAX: tax})
    try:
        assert app.retrier is None
        view = await app.service.create(
            CALLER, spouse_at_peer("local"), wait=True, wait_until=soon(30)
        )
        doc = _doc((await app.service.get_report(CALLER, view.record.id, 0)).envelope)
        assert view.record.state is VerificationState.DONE and "fragments" not in doc
        assert [(s["member_index"], s["status"]) for s in doc["sources"]] == [
            (0, "FOUND"), (1, "NOT_FOUND"),
        ]  # fmt: skip
        assert all("deployment" not in s for s in doc["sources"])
        assert tax.calls == 2
    finally:
        await app.aclose()
