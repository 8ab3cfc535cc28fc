"""The verification use cases, behind one service: intake, run and release, reading.

* :mod:`~verifier.service.intake` — validate → authorize → record the intent;
* :mod:`~verifier.service.runner` and :mod:`~verifier.service.release` — fan-out →
  assess → sign → store, for version 1 and for late versions;
* :mod:`~verifier.service.reading` — view, watch, report.

Audit discipline (fail closed): the ``authorize`` and ``access_intent`` entries commit
before any source is asked; the ``released`` entry commits in the same transaction as
the report it records; if the audit log cannot be written, nothing proceeds.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

import structlog

from verifier.domain.caller import Caller
from verifier.domain.fragment import EmbeddedFragment
from verifier.domain.household import RequestDraft, VerificationRequest
from verifier.domain.outcomes import Completeness, SourceOutcome
from verifier.domain.ports import ConsentGate, Store, StoredReport
from verifier.service.events import Event, EventHub
from verifier.service.fanout import FanOut
from verifier.service.federation.requester import FederationRequester
from verifier.service.intake import Intake
from verifier.service.printing import DisclosedReport, Printing
from verifier.service.reading import Reading
from verifier.service.release import Assessor, PeerRetries, Release
from verifier.service.runner import Runner
from verifier.service.runs import Runs, VerificationView
from verifier.service.time_limits import CheckTerms
from verifier.service.turns import BackgroundTurns
from verifier.signing.signer import ReportSigner

log = structlog.get_logger("hedui.verifications")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class VerificationService:
    def __init__(
        self,
        *,
        store: Store,
        fanout: FanOut,
        signer: ReportSigner,
        pseudonym_key: bytes,
        hub: EventHub | None = None,
        deadline_seconds: float = 30.0,
        clock: Callable[[], datetime] = _utcnow,
        assessor: Assessor | None = None,
        consents: ConsentGate,
        volume_soft: int = 50,
        volume_hard: int = 200,
        urgent_first_seconds: float = 5.0,
        federation: FederationRequester | None = None,
    ) -> None:
        self.hub = hub or EventHub()
        self._store = store
        self._clock = clock
        # Names this process in leases; unique per start so a restarted process does not
        # mistake its predecessor's leases for its own.
        self.owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._runs = Runs()
        self._fanout = fanout
        self._reading = Reading(store=store, hub=self.hub, runs=self._runs, clock=clock)
        self._printing = Printing(store, pseudonym_key)
        self._release = Release(
            store=store,
            fanout=fanout,
            signer=signer,
            pseudonym_key=pseudonym_key,
            hub=self.hub,
            runs=self._runs,
            clock=clock,
            assessor=assessor,
            deployment=federation.name if federation is not None else "",
        )
        self._runner = Runner(
            store=store,
            fanout=fanout,
            release=self._release,
            pseudonym_key=pseudonym_key,
            hub=self.hub,
            runs=self._runs,
            clock=clock,
            deadline_seconds=deadline_seconds,
            urgent_first_seconds=urgent_first_seconds,
            federation=federation,
        )
        self._intake = Intake(
            store=store,
            fanout=fanout,
            consents=consents,
            pseudonym_key=pseudonym_key,
            runner=self._runner,
            reading=self._reading,
            runs=self._runs,
            clock=clock,
            owner=self.owner,
            volume_soft=volume_soft,
            volume_hard=volume_hard,
        )

    @property
    def watch_recheck_seconds(self) -> float:
        """How long a watcher waits for this process's events before reading the
        database: another process may be answering for the same verification."""
        return self._reading.watch_recheck_seconds

    @watch_recheck_seconds.setter
    def watch_recheck_seconds(self, seconds: float) -> None:
        self._reading.watch_recheck_seconds = seconds

    # ------------------------------------------------------------------ intake
    async def create(
        self,
        caller: Caller,
        draft: RequestDraft,
        *,
        wait: bool,
        wait_until: float | None = None,
        terms: CheckTerms | None = None,
    ) -> VerificationView:
        """Validate, authorize, record the intent, start asking sources.

        ``wait_until`` is a :func:`time.monotonic` instant (the caller's deadline); with
        ``wait`` the call returns when the first report is issued or just before then.
        ``terms`` say how it runs: urgent, interactive (the default) or in a batch.
        """
        return await self._intake.create(
            caller, draft, wait=wait, wait_until=wait_until, terms=terms or CheckTerms()
        )

    async def create_checked(
        self,
        caller: Caller,
        request: VerificationRequest,
        *,
        wait: bool,
        wait_until: float | None = None,
        terms: CheckTerms | None = None,
    ) -> VerificationView:
        """:meth:`create` for a request validated already (a batch item)."""
        return await self._intake.create_checked(
            caller, request, wait=wait, wait_until=wait_until, terms=terms or CheckTerms()
        )

    # ------------------------------------------------------------------ run and release
    async def resume(self, vid: str) -> None:
        """Ask the sources again for a verification whose process died mid-run."""
        await self._runner.resume(vid)

    @property
    def store_trouble(self) -> asyncio.Event:
        """Set when a run meets a storage failure: health should probe the store now."""
        return self._runs.store_trouble

    async def store_recovered(self) -> int:
        """The store accepts writes again: let go of the runs a storage failure stopped,
        so that the poller (here or in another replica) resumes them now, under a fresh
        lease, instead of when their leases would have run out. Returns how many."""
        vids = self._runs.take_interrupted()
        if not vids:
            return 0
        try:
            async with self._store.unit_of_work(write=True) as uow:
                released = await uow.polls.release_runs(self.owner, vids, self._clock())
                await uow.commit()
        except Exception:
            self._runs.restore_interrupted(vids)
            raise
        log.info("interrupted_runs_released", runs=released)
        return released

    async def release_late(
        self, vid: str, outcomes: Sequence[SourceOutcome], *, poll_owner: str, overdue: bool = False
    ) -> StoredReport | None:
        """A new report version with late answers (or newly overdue sources); None if
        ``poll_owner`` no longer holds any of their leases."""
        return await self._release.release_late(
            vid, outcomes, poll_owner=poll_owner, overdue=overdue
        )

    # ------------------------------------------------------------------ reading
    async def release_federated(
        self,
        vid: str,
        outcomes: Sequence[SourceOutcome],
        fragments: Sequence[EmbeddedFragment],
        retries: PeerRetries,
    ) -> StoredReport | None:
        """A new version with a peer's late 协查 answer (see the federation retrier)."""
        return await self._release.release_federated(vid, outcomes, fragments, retries)

    async def view(self, vid: str) -> VerificationView:
        return await self._reading.view(vid)

    async def get(self, caller: Caller, vid: str) -> VerificationView:
        return await self._reading.get(caller, vid)

    def watch(self, caller: Caller, vid: str) -> AsyncIterator[Event]:
        """Progress so far and the latest report version, then live events, until DONE."""
        return self._reading.watch(caller, vid)

    async def get_report(self, caller: Caller, vid: str, version: int) -> StoredReport:
        return await self._reading.get_report(caller, vid, version)

    async def get_report_with_identities(
        self, caller: Caller, vid: str, version: int
    ) -> DisclosedReport:
        """The report and its members' full identities, for the printout; audited, and
        only for a role allowed to see them (:mod:`~verifier.service.printing`)."""
        return await self._printing.with_identities(caller, vid, version)

    # ------------------------------------------------------------------ lifecycle
    async def aclose(self) -> None:
        """Stop accepting work and cancel runs still asking sources."""
        await self._runs.aclose()

    async def batch_turn(self, at_most: float = 1.0) -> None:
        """Until no urgent or interactive check is being run in this process (at most
        ``at_most`` seconds): batch work starts new checks in the gaps, so the CPU and the
        database writer go to the checks someone is waiting for."""
        await self._runs.quiet(at_most)

    def background_turns(self) -> BackgroundTurns:
        """Turns on the event loop for one kind of background work, taken while this
        process's checks wait for their sources (see :mod:`verifier.service.turns`)."""
        return BackgroundTurns(self._runs, self._fanout)

    def running(self) -> int:
        return len(self._runs)


__all__ = ["Assessor", "Completeness", "VerificationService", "VerificationView"]
