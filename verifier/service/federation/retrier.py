"""Asking peers again: a 协查 the peer did not answer (down, out of time, an error on
this side) is asked again, under the same request id, until it is answered or the
agreement's deadline in working days passes (a last ask falls on the deadline).

Retries are leased from the database (``claim_due``), so any replica can do them and a
dead replica's leases simply expire. An answer makes a new report version with the
peer's outcomes and fragment; a peer that refuses (DENIED) is not asked again; when the
ask made at the deadline is not answered either, a last version keeps the asked pairs
FAILED with ``PEER_DEADLINE_PASSED`` and the check is DONE when nothing else is awaited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import structlog

from verifier.domain.fragment import EmbeddedFragment
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import SourceOutcome, VerificationState
from verifier.domain.ports import Store
from verifier.domain.ports.federation_retries import PeerRetry
from verifier.service.background import run_rounds
from verifier.service.federation.requester import FederationRequester, deadline_passed
from verifier.service.release import PeerRetries

log = structlog.get_logger("hedui.federation")

ReleaseLate = Callable[
    [str, Sequence[SourceOutcome], Sequence[EmbeddedFragment], PeerRetries],
    Awaitable[object],
]
"""Release a check's next version with these outcomes, fragments and retry changes
(:meth:`VerificationService.release_federated`)."""

ASK_SECONDS = 30.0
"""How long one retry waits for the peer."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PeerRetrier:
    """Asks peers again for the checks' unanswered 协查, from leased retries (see the
    module docstring); any replica may run it."""

    def __init__(
        self,
        store: Store,
        requester: FederationRequester,
        release: ReleaseLate,
        *,
        owner: str,
        batch: int = 16,
        lease_seconds: float = 120.0,
        max_backoff_seconds: float = 3600.0,
        ask_seconds: float = ASK_SECONDS,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._requester = requester
        self._release = release
        self._owner = owner
        self._batch = batch
        # Held while the peer is asked and the version released: longer than both.
        self._lease = timedelta(seconds=max(lease_seconds, 2 * ask_seconds + 30))
        self._max_backoff = max_backoff_seconds
        self._ask_seconds = ask_seconds
        self._clock = clock

    @property
    def requester(self) -> FederationRequester:
        """Who asks the peers (the check flow's requester)."""
        return self._requester

    async def tick(self) -> int:
        """One round: claim the due retries and ask (or give up) each. Returns how many."""
        now = self._clock()
        # A read first: an idle replica must not take the write lock every round.
        async with self._store.unit_of_work(write=False) as uow:
            if not await uow.federation_retries.has_due(now):
                return 0
        async with self._store.unit_of_work(write=True) as uow:
            claimed = await uow.federation_retries.claim_due(
                now, self._owner, self._lease, self._batch
            )
            await uow.commit()
        await asyncio.gather(*(self._one(r) for r in claimed))
        return len(claimed)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Rounds until ``stop``."""
        await run_rounds(self.tick, stop, interval, log=log, failed="peer_retry_round_failed")

    async def _request(self, vid: str) -> VerificationRequest | None:
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.verifications.get(vid)
            # RUNNING too: an urgent check's early version may already wait for a peer.
            if record is None or record.state is VerificationState.DONE:
                return None
            return await uow.verifications.load_request(vid)

    async def _one(self, retry: PeerRetry) -> None:
        try:
            await self._retry(retry)
        except Exception as exc:
            # Its lease expires and it is taken again; the other retries go on.
            log.warning("peer_retry_failed", peer=retry.peer, error=type(exc).__name__)

    async def _retry(self, retry: PeerRetry) -> None:
        vid = retry.verification_id
        request = await self._request(vid)
        # Only while this process still holds it: one answer never makes two versions.
        finished = PeerRetries(finish=(retry.key,), owner=self._owner)
        if request is None:
            # Purged, cancelled or closed otherwise: nothing is waiting for this answer.
            async with self._store.unit_of_work(write=True) as uow:
                await uow.federation_retries.finish(
                    vid, retry.peer, retry.ask_request_id, self._owner
                )
                await uow.commit()
            return
        # Due at or after the agreement's deadline: the last ask. Unanswered, it gives up.
        last = self._clock() >= retry.deadline_at
        answer = await self._requester.ask_again(
            request, retry, time.monotonic() + self._ask_seconds
        )
        if not answer.again:
            fragments = (answer.fragment,) if answer.fragment is not None else ()
            await self._release(vid, answer.outcomes, fragments, finished)
            return
        if last:
            log.info("peer_deadline_passed", peer=retry.peer, request_id=retry.ask_request_id)
            await self._release(vid, deadline_passed(retry), (), finished)
            return
        now = self._clock()
        wait = timedelta(seconds=min(self._max_backoff, 2.0 ** min(retry.attempts, 12)))
        # Never later than the deadline: the last ask falls on it, so giving up is not
        # later than agreed.
        at = min(now + wait, retry.deadline_at)
        async with self._store.unit_of_work(write=True) as uow:
            await uow.federation_retries.reschedule(
                vid, retry.peer, retry.ask_request_id, at, retry.attempts + 1, self._owner
            )
            await uow.commit()
