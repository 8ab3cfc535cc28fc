"""In-process progress events for watchers of a verification."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from verifier.domain.outcomes import Completeness, SourceStatus, VerificationState


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """A member × source reached a status. No records: watchers see progress, not data."""

    at: datetime
    member_index: int
    source: str
    status: SourceStatus
    reason: str = ""

    @property
    def key(self) -> tuple[int, str, SourceStatus]:
        return (self.member_index, self.source, self.status)


@dataclass(frozen=True, slots=True)
class ReportEvent:
    at: datetime
    version: int
    completeness: Completeness
    envelope_sha256: str


@dataclass(frozen=True, slots=True)
class StateEvent:
    at: datetime
    state: VerificationState


Event = SourceEvent | ReportEvent | StateEvent


@dataclass(frozen=True, slots=True)
class Changed:
    """Another process changed the verification: watchers re-read it (never sent on)."""


Notice = Event | Changed


class EventHub:
    """Fan-out of events to per-watcher queues. Unbounded queues: a verification emits
    at most members × sources + a few events, so a slow watcher cannot grow one far."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Notice]]] = {}

    @contextmanager
    def subscribe(self, verification_id: str) -> Iterator[asyncio.Queue[Notice]]:
        q: asyncio.Queue[Notice] = asyncio.Queue()
        self._subscribers.setdefault(verification_id, set()).add(q)
        try:
            yield q
        finally:
            subs = self._subscribers.get(verification_id)
            if subs is not None:
                subs.discard(q)
                if not subs:
                    del self._subscribers[verification_id]

    def publish(self, verification_id: str, event: Notice) -> None:
        for q in self._subscribers.get(verification_id, ()):
            q.put_nowait(event)

    def changed_elsewhere(self, verification_id: str) -> None:
        """Wake this verification's watchers to re-read it (another process released)."""
        if verification_id in self._subscribers:
            self.publish(verification_id, Changed())
