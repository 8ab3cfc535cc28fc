"""The verifications this process is asking sources about right now, and what a caller
is shown of a verification."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from verifier.domain.ports import OutcomeSummary, VerificationRecord, VerificationTerms
from verifier.service.events import SourceEvent


@dataclass(frozen=True, slots=True)
class VerificationView:
    record: VerificationRecord
    progress: tuple[OutcomeSummary, ...]
    terms: VerificationTerms | None = None
    """Urgency, due date and batch (None for a check from before terms were kept)."""


@dataclass(frozen=True, slots=True)
class Run:
    task: asyncio.Task[None]
    done: asyncio.Event
    # Progress so far, for watchers who join while sources are still being asked.
    progress: list[SourceEvent]
    # The view as of each report this run released, newest last.
    released: list[VerificationView] = field(default_factory=list)


class Runs:
    """Runs by verification id. One per verification in this process; a run resumed
    while an older one overruns replaces it, and only a run's own entry is removed."""

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        self.closing = False
        self._ahead = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._busy = asyncio.Event()  # the opposite of _quiet, for whoever waits for work
        # Runs that stopped on a storage failure, still leased to this process: resumed
        # as soon as the store accepts writes again, not when their leases run out.
        self._interrupted: set[str] = set()
        # Set on each storage failure a run meets, so that health probes the store now.
        self.store_trouble = asyncio.Event()

    def interrupted(self, verification_id: str) -> None:
        """The run stopped because the store refused its work."""
        self._interrupted.add(verification_id)
        self.store_trouble.set()

    def take_interrupted(self) -> list[str]:
        """The interrupted runs, forgotten here: the caller lets go of their leases."""
        taken = sorted(self._interrupted)
        self._interrupted.clear()
        return taken

    def restore_interrupted(self, verification_ids: list[str]) -> None:
        """Letting go of their leases failed: keep them for the next recovery."""
        self._interrupted.update(verification_ids)

    def ahead_began(self) -> None:
        """An urgent or interactive check started asking its sources."""
        self._ahead += 1
        self._quiet.clear()
        self._busy.set()

    def ahead_ended(self) -> None:
        """It issued its first report (or stopped)."""
        self._ahead -= 1
        if self._ahead <= 0:
            self._ahead = 0
            self._quiet.set()
            self._busy.clear()

    @contextlib.contextmanager
    def ahead(self) -> Iterator[None]:
        """An urgent or interactive check being taken in (authorized, its intent
        recorded): batch work waits for it as for one asking its sources."""
        self.ahead_began()
        try:
            yield
        finally:
            self.ahead_ended()

    async def quiet(self, at_most: float) -> None:
        """Until no urgent or interactive check is being run here, or ``at_most`` seconds."""
        if self._quiet.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), at_most)

    @property
    def is_quiet(self) -> bool:
        """No urgent or interactive check is being taken in or run here."""
        return self._quiet.is_set()

    @property
    def quiet_event(self) -> asyncio.Event:
        """Set while :attr:`is_quiet`."""
        return self._quiet

    @property
    def busy_event(self) -> asyncio.Event:
        """Set while an urgent or interactive check is being taken in or run here."""
        return self._busy

    def get(self, verification_id: str) -> Run | None:
        return self._runs.get(verification_id)

    def add(self, verification_id: str, run: Run) -> None:
        self._runs[verification_id] = run

    def finished(self, verification_id: str, task: asyncio.Task[None] | None) -> None:
        current = self._runs.get(verification_id)
        if current is not None and current.task is task:
            del self._runs[verification_id]

    def __len__(self) -> int:
        return len(self._runs)

    @staticmethod
    async def wait(run: Run, wait_until: float | None) -> None:
        """Until the run is done or just before ``wait_until`` (a monotonic instant)."""
        # Leave a margin to answer before the caller's deadline expires.
        timeout = None if wait_until is None else max(0.0, wait_until - time.monotonic() - 0.25)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(run.done.wait()), timeout)

    async def aclose(self) -> None:
        """Stop accepting runs and cancel those still asking sources."""
        self.closing = True
        runs = list(self._runs.values())
        for r in runs:
            r.task.cancel()
        await asyncio.gather(*(r.task for r in runs), return_exceptions=True)
