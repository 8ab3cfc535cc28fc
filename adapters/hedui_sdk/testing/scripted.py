"""``ScriptedAdapter``: an in-process source whose answers your test writes.

For a department team's own tests of code around its adapter (and for hedui's): no
HTTP, no sandbox, every answer and every failure chosen by the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from hedui_sdk.base import BaseAdapter
from hedui_sdk.contract import SourceKind, SourceQuery, SourceResult

__all__ = ["PollHandler", "QueryHandler", "ScriptedAdapter"]

QueryHandler = Callable[[SourceQuery], Awaitable[SourceResult]]
"""``async def handler(q) -> SourceResult``; raise an adapter error to fail the call."""

PollHandler = Callable[[str], Awaitable[SourceResult]]
"""``async def handler(ticket) -> SourceResult`` for a source that answers later."""


class ScriptedAdapter(BaseAdapter):
    """An adapter that answers every query with ``await handler(query)``.

    ::

        async def answer(q: SourceQuery) -> SourceResult:
            if q.subject.id_number == known:
                return SourceResult.found([record], as_of=now)
            return SourceResult.not_found(as_of=now)

        adapter = ScriptedAdapter(answer, source=SourceKind.TAX)

    The handler may raise :class:`~hedui_sdk.errors.TransientSourceError`,
    :class:`~hedui_sdk.errors.PermanentSourceError` or :class:`~hedui_sdk.errors.SourceDenied`
    to play a failing department, or wait on an event to play a slow one. Give
    ``poll_handler`` to answer tickets that a PENDING answer handed out; without it every
    ticket is refused, as for any source that answers at once.

    What the test can look at afterwards: ``queries`` (every query, in order),
    ``tickets`` (every ticket polled), ``started`` (set on the first query) and
    ``closed``.
    """

    # Placeholders that satisfy BaseAdapter's class check; each instance sets its own.
    name = "scripted"
    version = "0"
    source = SourceKind.TAX

    def __init__(
        self,
        handler: QueryHandler,
        *,
        source: SourceKind,
        name: str = "scripted",
        version: str = "0-scripted",
        poll_handler: PollHandler | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.source = source
        self._handler = handler
        self._poll_handler = poll_handler
        self.queries: list[SourceQuery] = []
        self.tickets: list[str] = []
        self.started = asyncio.Event()
        self.closed = False

    async def query(self, q: SourceQuery) -> SourceResult:
        """Record the query and answer it with the handler."""
        self.queries.append(q)
        self.started.set()
        return await self._handler(q)

    async def poll(self, ticket: str) -> SourceResult:
        """Record the ticket and answer it with ``poll_handler`` (refused without one)."""
        self.tickets.append(ticket)
        if self._poll_handler is None:
            return await super().poll(ticket)
        return await self._poll_handler(ticket)

    async def aclose(self) -> None:
        """Mark the adapter closed."""
        self.closed = True
