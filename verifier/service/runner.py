"""Running a verification: ask every source about every member, then release version 1.

Recent definite answers are reused where a source allows it (``reuse_days``); the rest
go to the fan-out, each status told to watchers as it arrives, in the check's lane at
every source (urgent, interactive or batch). A run belongs to the process that recorded
its intent (its run lease); a run whose process died is resumed by whichever process
claims the expired lease.

An urgent check (急难) does not wait for slow sources: once ``urgent_first_seconds``
have passed, version 1 is released with what has answered, the sources still being
asked PENDING; their answers make version 2 when they come.

With federation configured, the check is routed first: member × source pairs that a peer
answers (a member whose 户籍 is in its regions, a source only it has) are asked there,
concurrently with the local fan-out and within the same deadline, and released with the
local answers and the peers' fragments. A peer still to be asked again keeps the check
AWAITING_SOURCES (see :mod:`verifier.service.federation.retrier`). A resumed run routes
again: the routing is a function of the request and the configuration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from audit.entry import Actor, EntryDraft
from hedui_sdk import SourceKind
from verifier.domain.errors import is_store_failure
from verifier.domain.federation_routing import Routing
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import SourceOutcome, SourceStatus, VerificationState
from verifier.domain.ports import Store
from verifier.domain.ports.federation_retries import RetryKey
from verifier.domain.vocabulary import AuditAction
from verifier.service.audit_trail import SYSTEM_ACTOR, requester_of, subject_refs
from verifier.service.events import EventHub, SourceEvent
from verifier.service.fanout import FanOut
from verifier.service.federation.requester import (
    FederationRequester,
    RemoteAnswers,
    ask_request_id,
)
from verifier.service.lanes import Lane
from verifier.service.release import PeerRetries, Release
from verifier.service.runs import Run, Runs
from verifier.service.time_limits import CheckTerms

log = structlog.get_logger("hedui.verifications")

RUN_LEASE_GRACE_S = 30.0
BATCH_STAGE_PAUSE_S = 1.0
"""How long a batch check waits, before asking its sources and again before releasing,
for the urgent and interactive checks of this process (0: it does not wait). The event
loop and the database writer are shared: batch checks already under way would otherwise
take their turns with a check someone waits for. Bounded, so batch work never starves."""


def _retries(vid: str, routing: Routing | None, answers: RemoteAnswers | None) -> PeerRetries:
    """The retry changes a run's asks bring: those to ask again are scheduled (a retry
    already kept stands), and the retries an earlier run of the check left (its process
    died after scheduling them) are finished for the asks answered now, so the check is
    not kept waiting for them nor the peer asked again for what it answered."""
    if routing is None or answers is None:
        return PeerRetries()
    again = {r.ask_request_id for r in answers.retries}
    asked = (RetryKey(vid, ask.peer, ask_request_id(vid, ask)) for ask in routing.remote)
    return PeerRetries(
        schedule=answers.retries,
        finish=tuple(k for k in asked if k.ask_request_id not in again),
    )


async def _ask_peers(
    federation: FederationRequester,
    vid: str,
    request: VerificationRequest,
    routing: Routing,
    deadline: float,
    progress: Callable[[SourceOutcome], Awaitable[None]],
) -> RemoteAnswers:
    """A check's asks to peers (concurrent with its local fan-out), their outcomes
    published as they come like a local source's."""
    answers = await federation.ask_all(vid, request, routing, deadline)
    for o in answers.outcomes:
        await progress(o)
    return answers


class _Done(asyncio.Event):
    """A run's ``done`` event that also tells, once, that an urgent or interactive run
    has issued its first report (batch work waits for that: see ``Runs.quiet``)."""

    def __init__(self, first_issued: Callable[[], None] | None) -> None:
        super().__init__()
        self._first_issued = first_issued

    def set(self) -> None:
        told, self._first_issued = self._first_issued, None
        if told is not None:
            told()
        super().set()


class Runner:
    def __init__(
        self,
        *,
        store: Store,
        fanout: FanOut,
        release: Release,
        pseudonym_key: bytes,
        hub: EventHub,
        runs: Runs,
        clock: Callable[[], datetime],
        deadline_seconds: float,
        urgent_first_seconds: float = 5.0,
        federation: FederationRequester | None = None,
    ) -> None:
        self._store = store
        self._fanout = fanout
        self._release = release
        self._pkey = pseudonym_key
        self._hub = hub
        self._runs = runs
        self._clock = clock
        self._deadline_seconds = deadline_seconds
        self._urgent_first_seconds = urgent_first_seconds
        self._federation = federation

    def run_lease_until(self) -> datetime:
        # Longer than any run can take: a lease still held past this means a dead process.
        return self._clock() + timedelta(seconds=self._deadline_seconds + RUN_LEASE_GRACE_S)

    # ------------------------------------------------------------------ run
    def start(
        self,
        vid: str,
        request: VerificationRequest,
        actor: Actor,
        caller_deadline: float | None,
        terms: CheckTerms | None = None,
    ) -> Run:
        """Ask the sources now, in a task of this process; version 1 follows."""
        deadline = time.monotonic() + self._deadline_seconds
        if caller_deadline is not None:
            # Answer inside the caller's deadline: sources still silent then are FAILED.
            deadline = min(deadline, caller_deadline - 0.5)
        terms = terms or CheckTerms()
        ahead = terms.lane is not Lane.BATCH
        if ahead:
            self._runs.ahead_began()
        done = _Done(self._runs.ahead_ended if ahead else None)
        progress: list[SourceEvent] = []
        task = asyncio.get_running_loop().create_task(
            self._run(vid, request, actor, deadline, done, progress, terms),
            name=f"verification-{vid}",
        )
        run = Run(task, done, progress)
        self._runs.add(vid, run)
        return run

    async def _reusable(
        self, request: VerificationRequest
    ) -> dict[tuple[int, SourceKind], SourceOutcome]:
        """Earlier definite answers still inside each source's reuse window."""
        now = self._clock()
        wanted: dict[tuple[str, str], list[tuple[int, SourceKind, int]]] = {}
        refs = subject_refs(self._pkey, request)
        for kind in request.sources or self._fanout.configured:
            days = self._fanout.policy(kind).reuse_days
            if days <= 0:
                continue
            for i, ref in enumerate(refs):
                wanted.setdefault((ref, kind.value), []).append((i, kind, days))
        if not wanted:
            return {}
        oldest = now - timedelta(days=max(d for v in wanted.values() for _, _, d in v))
        async with self._store.unit_of_work(write=False) as uow:
            cached = await uow.cache.get(list(wanted), oldest)
        out: dict[tuple[int, SourceKind], SourceOutcome] = {}
        for key, hit in cached.items():
            for i, kind, days in wanted[key]:
                if hit.fetched_at < now - timedelta(days=days):
                    continue
                if hit.window != request.window:
                    continue  # an answer about another period (or of unknown period)
                out[(i, kind)] = SourceOutcome(
                    member_index=i,
                    source=kind,
                    status=SourceStatus(hit.status),
                    adapter=hit.adapter,
                    adapter_version=hit.adapter_version,
                    as_of=hit.as_of,
                    records=hit.records,
                    reason=f"reused answer fetched {hit.fetched_at:%Y-%m-%d}",
                    reused=True,
                    fetched_at=hit.fetched_at,
                )
        return out

    async def _run(
        self,
        vid: str,
        request: VerificationRequest,
        actor: Actor,
        deadline: float,
        done: asyncio.Event,
        seen: list[SourceEvent],
        terms: CheckTerms,
    ) -> None:
        try:
            answered: dict[tuple[int, SourceKind], SourceOutcome] = {}

            async def progress(o: SourceOutcome) -> None:
                answered[(o.member_index, o.source)] = o
                event = SourceEvent(
                    self._clock(), o.member_index, o.source.value, o.status, o.reason
                )
                seen.append(event)
                self._hub.publish(vid, event)

            if terms.lane is Lane.BATCH:
                await self._runs.quiet(BATCH_STAGE_PAUSE_S)
            reused = await self._reusable(request)
            routing = self._routing(request)
            remote_pairs = frozenset(routing.answered_by()) if routing is not None else frozenset()
            # A pair a peer answers is asked there, never answered from a local reuse.
            reused = {k: o for k, o in reused.items() if k not in remote_pairs}
            for o in reused.values():
                await progress(o)
            fan = asyncio.ensure_future(
                self._fanout.run(
                    request,
                    request_id=vid,
                    deadline=deadline,
                    on_progress=progress,
                    skip=frozenset(reused) | remote_pairs,
                    lane=terms.lane,
                )
            )
            asks = (
                asyncio.ensure_future(
                    _ask_peers(self._federation, vid, request, routing, deadline, progress)
                )
                if routing is not None and self._federation is not None
                else None
            )
            tasks = [fan] if asks is None else [fan, asks]
            remote: RemoteAnswers | None = None
            try:
                if terms.urgent:
                    await asyncio.wait(tasks, timeout=self._urgent_first_seconds)
                    if not all(t.done() for t in tasks):
                        await self._release_first_of_urgent(
                            vid, request, actor, answered, fan, done, asks, routing
                        )
                        return
                if asks is None:
                    outcomes = await fan
                else:
                    outcomes, remote = await asyncio.gather(fan, asks)
            finally:
                for task in tasks:
                    if not task.done():
                        task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            if terms.lane is Lane.BATCH:
                await self._runs.quiet(BATCH_STAGE_PAUSE_S)
            await self._release.release(
                vid, request, actor,
                [*reused.values(), *outcomes, *(remote.outcomes if remote else ())], first=True,
                fragments=remote.fragments if remote else (),
                retries=_retries(vid, routing, remote),
            )  # fmt: skip
        except asyncio.CancelledError:
            log.warning("verification_interrupted", verification_id=vid)
            raise
        except Exception as exc:
            if is_store_failure(exc):
                # Resumed as soon as the store accepts writes again (see
                # VerificationService.store_recovered); the lease still guards it.
                log.warning("verification_interrupted_by_store", verification_id=vid)
                self._runs.interrupted(vid)
            else:
                # The run lease expires and another process (or this one) resumes it.
                log.error("verification_failed", verification_id=vid, error=type(exc).__name__)
        finally:
            done.set()
            # Only our own entry: a resumed run of the same verification may have
            # replaced it while this one was overrunning.
            self._runs.finished(vid, asyncio.current_task())

    def _routing(self, request: VerificationRequest) -> Routing | None:
        """Where the check's pairs are asked, when peers answer some of them."""
        if self._federation is None:
            return None
        routing = self._federation.routing(request, request.sources or self._fanout.configured)
        return routing if routing.remote else None

    async def _release_first_of_urgent(
        self,
        vid: str,
        request: VerificationRequest,
        actor: Actor,
        answered: dict[tuple[int, SourceKind], SourceOutcome],
        fan: asyncio.Future[list[SourceOutcome]],
        done: asyncio.Event,
        asks: asyncio.Future[RemoteAnswers] | None = None,
        routing: Routing | None = None,
    ) -> None:
        """Version 1 now, with what has answered; the rest as version 2 when they answer.
        Whoever waits for the run (``wait``) is answered at version 1. Peers still being
        asked (``asks``) are waited for like slow sources."""
        kinds = request.sources or self._fanout.configured
        waiting = [
            (i, kind)
            for i in range(len(request.household.members))
            for kind in kinds
            if (i, kind) not in answered
        ]
        peers = routing.answered_by() if routing is not None else {}
        placeholders = [self._placeholder(i, kind, peers.get((i, kind), "")) for i, kind in waiting]
        first = [*answered.values(), *placeholders]
        log.info("urgent_first_report", verification_id=vid, waiting=len(waiting))
        # Peers that answered in time go with version 1, their fragments and retries too.
        early = asks.result() if asks is not None and asks.done() else None
        await self._release.release(
            vid, request, actor, first, first=True,
            fragments=early.fragments if early else (),
            retries=_retries(vid, routing, early),
        )  # fmt: skip
        done.set()
        outcomes = await fan
        late = [o for o in outcomes if (o.member_index, o.source) in set(waiting)]
        # The peers' answers go with version 2 unless they already went with version 1.
        remote = await asks if asks is not None and early is None else None
        await self._release.release(
            vid, request, actor, [*late, *(remote.outcomes if remote else ())], first=False,
            fragments=remote.fragments if remote else (),
            retries=_retries(vid, routing, remote),
        )  # fmt: skip

    def _placeholder(self, i: int, kind: SourceKind, peer: str) -> SourceOutcome:
        """A pair still being asked, here or at ``peer``, in an urgent check's version 1.
        A peer's is due by the agreement's working days (a local source's by its policy,
        when the version is released)."""
        adapter = None if peer else self._fanout.adapter(kind)
        due_at = None
        if peer and self._federation is not None:
            due_at = self._federation.deadline_at(peer, self._clock())
        return SourceOutcome(
            member_index=i,
            source=kind,
            status=SourceStatus.PENDING,
            adapter=adapter.name if adapter else "",
            adapter_version=adapter.version if adapter else "",
            reason="still being asked: an urgent check's first report does not wait for it",
            deployment=peer,
            due_at=due_at,
        )

    async def resume(self, vid: str) -> None:
        """Ask the sources again for a verification whose process died mid-run.

        Called by the poller after claiming the run's expired lease. The new
        ``access_intent`` entry says the sources are being asked again, and why. If the
        store refuses it, the run is interrupted again and resumed on the next recovery.
        """
        try:
            await self._resume(vid)
        except Exception as exc:
            if not is_store_failure(exc):
                raise
            log.warning("verification_interrupted_by_store", verification_id=vid)
            self._runs.interrupted(vid)

    async def _resume(self, vid: str) -> None:
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.verifications.get(vid)
            request = await uow.verifications.load_request(vid) if record else None
            stored = await uow.terms.get(vid) if record else None
        if record is None or request is None or record.state is not VerificationState.RUNNING:
            return
        terms = (
            CheckTerms.resumed(stored.urgent, stored.batch_id, stored.origin)
            if stored
            else CheckTerms()
        )
        actor = requester_of(record)
        kinds = request.sources or self._fanout.configured
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=SYSTEM_ACTOR,
                        action=AuditAction.ACCESS_INTENT.value,
                        outcome="recorded",
                        case_id=request.case_id,
                        verification_id=vid,
                        subject_refs=subject_refs(self._pkey, request),
                        request_id=request.request_id,
                        reason="RESUMED",
                        details={"sources": [k.value for k in kinds], "resumed": True},
                    )
                ]
            )
            await uow.commit()
        log.info("verification_resumed", verification_id=vid)
        run = self.start(vid, request, actor, None, terms)
        await run.done.wait()
