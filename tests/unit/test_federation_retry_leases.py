"""Retries of asks to peers belong to one process at a time, and an answer makes one
version: two replicas running the same retry (the first one's lease ended while it was
still asking) release one version with every member's outcomes; a late answer for a
check already DONE makes no version; a run resumed after its process died finishes the
retries its own asks got answered, so the check is DONE and the peer is not asked again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hedui_sdk import SourceKind
from tests.fakes import InMemoryStore
from tests.fakes.gated_source import GatedAdapter
from tests.fakes.peer_client import SigningPeer
from tests.federation_helpers import spouse_at_peer
from tests.helpers import APPLICANT_ID, CALLER
from tests.late_sources_helpers import resume_left_run
from tests.unit.test_federated_runs import PEER, PEER_KEY, REQUESTER, _doc, _service
from verifier.domain.outcomes import SourceOutcome, SourceStatus, VerificationState
from verifier.service.federation.retrier import PeerRetrier
from verifier.service.release import PeerRetries
from verifier.service.time_limits import CheckTerms


async def _asked(peer: SigningPeer, count: int) -> None:
    """Until ``peer`` has been asked ``count`` times in all."""
    async with asyncio.timeout(5):
        while len(peer.asks) < count:
            peer.asked.clear()
            await peer.asked.wait()


async def test_two_replicas_running_one_retry_release_one_version_with_all_outcomes() -> None:
    store = InMemoryStore()
    peer = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER, behaviour="down")
    svc = await _service(store, peer)
    v1 = await svc.create(CALLER, spouse_at_peer(), wait=True)
    vid = v1.record.id
    assert (v1.record.state, v1.record.latest_version) == (VerificationState.AWAITING_SOURCES, 1)
    due = datetime.now(UTC) + timedelta(minutes=1)
    async with store.unit_of_work(write=True) as uow:
        [held_by_a] = await uow.federation_retries.claim_due(due, "a", timedelta(seconds=1), 10)
        await uow.commit()
    # a's lease ends while it is still asking; b claims the retry.
    later = due + timedelta(seconds=2)
    async with store.unit_of_work(write=True) as uow:
        [held_by_b] = await uow.federation_retries.claim_due(later, "b", timedelta(minutes=2), 10)
        await uow.commit()
    peer.behaviour = "answer"
    peer.hold()
    requester = svc._runner._federation
    assert requester is not None

    def replica(owner: str) -> PeerRetrier:
        return PeerRetrier(store, requester, svc.release_federated, owner=owner,
                           clock=lambda: later)  # fmt: skip

    both = asyncio.gather(replica("a")._retry(held_by_a), replica("b")._retry(held_by_b))
    await _asked(peer, 3)  # the first run's ask, then both replicas'
    peer.gate.set()
    await both

    view = await svc.view(vid)
    assert (view.record.state, view.record.latest_version) == (VerificationState.DONE, 2)
    last = await _doc(svc, vid)
    assert [(s["member_index"], s["status"]) for s in last["sources"]] == [
        (0, "FOUND"), (1, "FOUND"),
    ]  # fmt: skip
    async with store.unit_of_work(write=False) as uow:
        assert not await uow.federation_retries.pending(vid)
    await svc.aclose()


async def test_a_late_answer_for_a_done_check_makes_no_version() -> None:
    store = InMemoryStore()
    svc = await _service(store, SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER))
    v1 = await svc.create(CALLER, spouse_at_peer(), wait=True)
    vid = v1.record.id
    assert v1.record.state is VerificationState.DONE
    late = SourceOutcome(1, SourceKind.TAX, SourceStatus.NOT_FOUND, "tax-peer", "1.0",
                         deployment=PEER)  # fmt: skip
    assert await svc.release_federated(vid, [late], (), PeerRetries()) is None
    view = await svc.view(vid)
    assert (view.record.state, view.record.latest_version) == (VerificationState.DONE, 1)
    await svc.aclose()


async def test_a_resumed_run_finishes_the_retries_its_asks_got_answered() -> None:
    """An urgent check's version 1 keeps a retry (the peer was down); its process dies.
    The resumed run asks again and is answered: version 2 closes the check, and the
    peer is not asked a third time."""
    store = InMemoryStore()
    down = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER, behaviour="down")
    local = GatedAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100_000}, expected=1)
    local.hold()
    first = await _service(store, down, local)
    terms = CheckTerms.interactive(urgent=True)
    v1 = await first.create(CALLER, spouse_at_peer(), wait=True, terms=terms)
    vid = v1.record.id
    async with store.unit_of_work(write=False) as uow:
        assert await uow.federation_retries.pending(vid)
    await first.aclose()  # the process dies while its local source is still asked

    answering = SigningPeer(PEER_KEY, peer=PEER, requester=REQUESTER)
    second = await _service(store, answering, consent=False)
    await resume_left_run(second, store)

    view = await second.view(vid)
    assert (view.record.state, view.record.latest_version) == (VerificationState.DONE, 2)
    doc = await _doc(second, vid)
    assert [(s["member_index"], s["status"]) for s in doc["sources"]] == [
        (0, "FOUND"), (1, "FOUND"),
    ]  # fmt: skip
    async with store.unit_of_work(write=False) as uow:
        assert not await uow.federation_retries.pending(vid)
        assert not await uow.federation_retries.has_due(datetime.now(UTC) + timedelta(days=30))
    assert len(answering.asks) == 1
    await second.aclose()
