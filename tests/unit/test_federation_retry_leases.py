"""Retries of asks to peers belong to one process at a time, and an answer makes one
version: two replicas running the same retry (the first one's lease ended while it was
still asking) release one version with every member's outcomes; a late answer for a
check already DONE makes no version.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hedui_sdk import SourceKind
from tests.fakes import InMemoryStore
from tests.fakes.peer_client import SigningPeer
from tests.helpers import CALLER
from tests.unit.test_federated_runs import PEER, PEER_KEY, REQUESTER, _doc, _draft, _service
from verifier.domain.outcomes import SourceOutcome, SourceStatus, VerificationState
from verifier.service.federation.retrier import PeerRetrier
from verifier.service.release import PeerRetries


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
    v1 = await svc.create(CALLER, _draft(), wait=True)
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
    v1 = await svc.create(CALLER, _draft(), wait=True)
    vid = v1.record.id
    assert v1.record.state is VerificationState.DONE
    late = SourceOutcome(1, SourceKind.TAX, SourceStatus.NOT_FOUND, "tax-peer", "1.0",
                         deployment=PEER)  # fmt: skip
    assert await svc.release_federated(vid, [late], (), PeerRetries()) is None
    view = await svc.view(vid)
    assert (view.record.state, view.record.latest_version) == (VerificationState.DONE, 1)
    await svc.aclose()
