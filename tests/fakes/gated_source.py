"""A fake source whose calls can be held at a gate, to make two requests meet at the
source (both asked before either is answered) without sleeping."""

from __future__ import annotations

import asyncio

from hedui_sdk import SourceKind, SourceQuery, SourceResult
from tests.fakes import FakeAdapter


class GatedAdapter(FakeAdapter):
    """A :class:`FakeAdapter` whose calls wait while the gate is closed (it starts open):
    ``hold`` calls, wait on ``arrived`` (set once ``expected`` calls are waiting), then
    ``gate.set()`` to let them answer."""

    def __init__(
        self, source: SourceKind, *, income_fen: dict[str, int], expected: int = 2
    ) -> None:
        super().__init__(source, income_fen=income_fen)
        self.gate = asyncio.Event()
        self.gate.set()
        self.arrived = asyncio.Event()
        self._expected = expected
        self._waiting = 0

    def hold(self) -> None:
        self.gate.clear()

    async def query(self, q: SourceQuery) -> SourceResult:
        self._waiting += 1
        if self._waiting >= self._expected:
            self.arrived.set()
        await self.gate.wait()
        return await super().query(q)
