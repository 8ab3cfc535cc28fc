"""Runs of federated checks on fakes (in-memory store, a signing fake peer): an urgent
check's first version does not wait for a slow peer (its pairs PENDING, naming the peer)
and the answer makes version 2 with the fragment; a later version that brings no
fragment still embeds the one its outcomes refer to; a peer refusing is DENIED with no
retry and the check DONE."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import SourceKind
from tests.consents import consent_draft
from tests.fakes import AllowAllConsents, FakeAdapter, InMemoryStore
from tests.fakes.gated_source import GatedAdapter
from tests.fakes.peer_client import PEER_INCOME_FEN, SigningPeer
from tests.federation_helpers import spouse_at_peer
from tests.helpers import APPLICANT_ID, CALLER, SPOUSE_ID
from tests.late_sources_helpers import resume_left_run
from verifier.domain.consent import validate_consent
from verifier.domain.errors import FailedPrecondition
from verifier.domain.household import Relation
from verifier.domain.outcomes import VerificationState
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.request_model import Purpose
from verifier.domain.time_limits import CHINA
from verifier.domain.workdays import add_working_days
from verifier.service.events import StateEvent
from verifier.service.fanout import FanOut, bind_sources
from verifier.service.federation.outbound import OutboundAssist
from verifier.service.federation.peers import PeerTrustService
from verifier.service.federation.requester import FederationRequester
from verifier.service.federation.retrier import PeerRetrier
from verifier.service.time_limits import CheckTerms
from verifier.service.verifications import VerificationService
from verifier.signing.jwks import PublicKey, key_id
from verifier.signing.signer import ReportSigner

PEER = "hedui-linzi"
REQUESTER = "hedui-gaoqing"
PEER_KEY = Ed25519PrivateKey.generate()
KID = key_id(PEER_KEY.public_key())
PURPOSES = (Purpose.DIBAO, Purpose.LINSHI)
URGENT = CheckTerms.interactive(urgent=True)


def _published(_peer: PeerConfig) -> Mapping[str, PublicKey]:
    return {KID: PEER_KEY.public_key()}


async def _service(
    store: InMemoryStore,
    peer: SigningPeer,
    local: FakeAdapter | None = None,
    *,
    consent: bool = True,
    keys: Callable[[PeerConfig], Mapping[str, PublicKey]] = _published,
) -> VerificationService:
    """A service asking ``peer``; ``keys`` is what the peer publishes once it was trusted."""
    fed = FederationConfig(
        peers={PEER: PeerConfig(
            name=PEER, regions=("370305",), endpoint="127.0.0.1:1", ca=Path("ca.pem"),
            jwks=Path("jwks.json"), key_ids=(KID,), purposes=PURPOSES, sources=(),
            asks_sources=(SourceKind.TAX,),
        )}
    )  # fmt: skip
    trust = PeerTrustService(store, fed, _published)
    await trust.trust(PEER, "ops")
    trust = PeerTrustService(store, fed, keys)
    outbound = OutboundAssist(store, trust, peer, name=REQUESTER, pseudonym_key=b"k" * 32)
    doc = validate_consent(
        consent_draft(
            "SQ-2026-001",
            [(APPLICANT_ID, Relation.APPLICANT), (SPOUSE_ID, Relation.SPOUSE)],
            sources=(SourceKind.TAX,),
        ),
        today=store.clock().date(),
    )
    if consent:  # registered once per store
        async with store.unit_of_work(write=True) as uow:
            await uow.consents.add(doc, "ref", (), store.clock())
            await uow.commit()
    return VerificationService(
        store=store,
        fanout=FanOut(bind_sources({SourceKind.TAX: local or _local_tax()}, {})),
        signer=ReportSigner(Ed25519PrivateKey.generate()),
        pseudonym_key=b"p" * 32,
        consents=AllowAllConsents(),
        deadline_seconds=5.0,
        urgent_first_seconds=0.05,
        federation=FederationRequester(store, outbound, fed),
    )


def _local_tax() -> FakeAdapter:
    return FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100_000})


async def _doc(svc: VerificationService, vid: str, version: int = 0) -> dict[str, Any]:
    stored = await svc.get_report(CALLER, vid, version)
    doc: dict[str, Any] = json.loads(base64.b64decode(json.loads(stored.envelope)["payload"]))
    return doc


async def _until_done(svc: VerificationService, vid: str) -> None:
    async with asyncio.timeout(10):
        async for event in svc.watch(CALLER, vid):
            if isinstance(event, StateEvent) and event.state is VerificationState.DONE:
                return


def _spouse(doc: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in doc["sources"] if s["member_index"] == 1)


async def test_an_urgent_check_does_not_wait_for_a_slow_peer() -> None:
    store = InMemoryStore()
    peer = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER)
    peer.hold()
    svc = await _service(store, peer)
    v1 = await svc.create(CALLER, spouse_at_peer(), wait=True, terms=URGENT)
    vid = v1.record.id
    assert (v1.record.latest_version, v1.record.state) == (1, VerificationState.RUNNING)
    first = await _doc(svc, vid, 1)
    assert (_spouse(first)["status"], _spouse(first)["deployment"]) == ("PENDING", PEER)
    assert "fragments" not in first
    peer.gate.set()
    await _until_done(svc, vid)
    second = await _doc(svc, vid)
    assert second["version"] == 2
    spouse = _spouse(second)
    assert (spouse["status"], spouse["deployment"]) == ("FOUND", PEER)
    assert [f["envelope_sha256"] for f in second["fragments"]] == [spouse["fragment_sha256"]]
    assert second["totals"]["by_member"][1]["income_fen"] == PEER_INCOME_FEN
    await svc.aclose()


async def test_a_later_version_embeds_the_fragment_kept_with_an_earlier_one() -> None:
    """The peer answers before an urgent check's first version, the local source after:
    version 2 brings no fragment of its own and still embeds the peer's."""
    store = InMemoryStore()
    local = GatedAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100_000}, expected=1)
    local.hold()
    peer = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER)
    svc = await _service(store, peer, local)
    v1 = await svc.create(CALLER, spouse_at_peer(), wait=True, terms=URGENT)
    vid = v1.record.id
    first = await _doc(svc, vid, 1)
    assert v1.record.state is VerificationState.RUNNING
    assert _spouse(first)["status"] == "FOUND" and len(first["fragments"]) == 1
    local.gate.set()
    await _until_done(svc, vid)
    second = await _doc(svc, vid)
    assert second["version"] == 2
    assert second["sources"][0]["status"] == "FOUND"
    assert second["fragments"] == first["fragments"]
    await svc.aclose()


async def test_a_refusing_peer_is_denied_and_the_check_done() -> None:
    store = InMemoryStore()
    svc = await _service(store, SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER,
                                            behaviour="refuse"))  # fmt: skip
    v1 = await svc.create(CALLER, spouse_at_peer(), wait=True)
    doc = await _doc(svc, v1.record.id)
    assert v1.record.state is VerificationState.DONE
    assert (_spouse(doc)["status"], _spouse(doc)["reason"]) == (
        "DENIED", "FEDERATION_SOURCE_NOT_AGREED",
    )  # fmt: skip
    async with store.unit_of_work(write=False) as uow:
        assert not await uow.federation_retries.pending(v1.record.id)
    await svc.aclose()


async def test_a_resumed_run_routes_again_and_asks_under_the_same_request_id() -> None:
    store = InMemoryStore()
    held = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER)
    held.hold()
    first = await _service(store, held)
    v1 = await first.create(CALLER, spouse_at_peer(), wait=True, terms=URGENT)
    await first.aclose()  # the process dies while the peer is still being asked
    answering = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER)
    second = await _service(store, answering, consent=False)
    await resume_left_run(second, store)
    done = await second.view(v1.record.id)
    assert (done.record.state, done.record.latest_version) == (VerificationState.DONE, 2)
    [asked_first], [asked_again] = held.asks, answering.asks
    assert asked_again.request_id == asked_first.request_id
    assert [m.id_number for m in asked_again.members] == [SPOUSE_ID]
    doc = await _doc(second, v1.record.id)
    assert _spouse(doc)["deployment"] == PEER and len(doc["fragments"]) == 1
    await second.aclose()


def _rotated(_peer: PeerConfig) -> Mapping[str, PublicKey]:
    raise FailedPrecondition("the peer's JWKS lacks 1 pinned key id(s)")


async def test_a_peer_whose_keys_cannot_be_had_fails_its_pairs_not_the_check() -> None:
    """The peer's JWKS stops publishing the pinned key after it was trusted: version 1 is
    released with the local answers, the peer's pairs FAILED and asked again later."""
    store = InMemoryStore()
    peer = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER)
    svc = await _service(store, peer, keys=_rotated)
    v1 = await svc.create(CALLER, spouse_at_peer(), wait=True)
    assert (v1.record.latest_version, v1.record.state) == (1, VerificationState.AWAITING_SOURCES)
    doc = await _doc(svc, v1.record.id)
    assert doc["sources"][0]["status"] == "FOUND"
    assert (_spouse(doc)["status"], _spouse(doc)["reason"]) == ("FAILED", "PEER_KEYS_UNAVAILABLE")
    assert peer.asks == []
    async with store.unit_of_work(write=False) as uow:
        assert await uow.federation_retries.pending(v1.record.id)
    await svc.aclose()


async def test_an_urgent_checks_pending_peer_pair_is_due_by_the_agreement() -> None:
    """A pair still being asked at a peer, in an urgent check's first version, is due at
    the end (in China) of the agreement's deadline_working_days, not by a local source's
    policy."""
    store = InMemoryStore()
    peer = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER)
    peer.hold()
    svc = await _service(store, peer)
    v1 = await svc.create(CALLER, spouse_at_peer(), wait=True, terms=URGENT)
    first = await _doc(svc, v1.record.id, 1)
    today = datetime.now(UTC).astimezone(CHINA).date()
    assert _spouse(first)["status"] == "PENDING"
    assert _spouse(first)["due_date"] == add_working_days(today, 5).isoformat()
    peer.gate.set()
    await _until_done(svc, v1.record.id)
    await svc.aclose()


def _retrier(svc: VerificationService, store: InMemoryStore, later: timedelta) -> PeerRetrier:
    requester = svc._runner._federation
    assert requester is not None
    return PeerRetrier(store, requester, svc.release_federated, owner="test",
                       clock=lambda: datetime.now(UTC) + later)  # fmt: skip


async def test_a_retry_past_the_deadline_asks_the_peer_a_last_time() -> None:
    """The last retry falls on the agreement's deadline: it asks once more, and only
    when that ask is not answered either are the pairs given up."""
    store = InMemoryStore()
    peer = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER, behaviour="down")
    svc = await _service(store, peer)
    v1 = await svc.create(CALLER, spouse_at_peer(), wait=True)
    vid = v1.record.id
    assert v1.record.state is VerificationState.AWAITING_SOURCES
    peer.behaviour = "answer"
    assert await _retrier(svc, store, timedelta(days=30)).tick() == 1
    assert len(peer.asks) == 2
    done = await svc.view(vid)
    assert (done.record.state, done.record.latest_version) == (VerificationState.DONE, 2)
    assert _spouse(await _doc(svc, vid))["status"] == "FOUND"
    await svc.aclose()


async def test_a_peer_still_silent_at_the_deadline_is_given_up_after_one_last_ask() -> None:
    store = InMemoryStore()
    peer = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER, behaviour="down")
    svc = await _service(store, peer)
    v1 = await svc.create(CALLER, spouse_at_peer(), wait=True)
    vid = v1.record.id
    assert await _retrier(svc, store, timedelta(days=30)).tick() == 1
    assert len(peer.asks) == 2
    done = await svc.view(vid)
    assert (done.record.state, done.record.latest_version) == (VerificationState.DONE, 2)
    spouse = _spouse(await _doc(svc, vid))
    assert (spouse["status"], spouse["reason"]) == ("FAILED", "PEER_DEADLINE_PASSED")
    async with store.unit_of_work(write=False) as uow:
        assert not await uow.federation_retries.pending(vid)
    await svc.aclose()
