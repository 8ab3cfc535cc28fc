"""An in-memory store that says when a write unit of work is running, for tests of what
work is kept out of the write transaction (which a process's other writes queue behind)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tests.fakes.store import InMemoryStore
from verifier.domain.ports import UnitOfWork

T = TypeVar("T")


class WatchedStore(InMemoryStore):
    """``writing`` is True while a write's work runs; ``before_write`` runs first in the
    next write (what another process commits between a read and a write)."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = False
        self.before_write: Callable[[UnitOfWork], Awaitable[None]] | None = None

    async def write(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async def watched(uow: UnitOfWork) -> T:
            if self.before_write is not None:
                hook, self.before_write = self.before_write, None
                await hook(uow)
            self.writing = True
            try:
                return await work(uow)
            finally:
                self.writing = False

        return await super().write(watched)
