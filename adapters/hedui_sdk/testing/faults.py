"""The fault hooks the conformance kit uses to make a source misbehave.

A department team that runs the kit against its own test double (or a staging gateway
with a fault switch) subclasses :class:`Faults` and overrides what its double can do.
A hook left alone raises :class:`FaultNotSupported`, and the kit *skips* the tests that
need it, with the reason in pytest's summary: a skipped contract test is an untested
part of the contract, so aim for none.
"""

from __future__ import annotations

import asyncio


class FaultNotSupported(NotImplementedError):
    """Raised by a :class:`Faults` hook the test double cannot perform."""


class Faults:
    """How the kit makes the source fail, hang, answer garbage, refuse, rate-limit or answer later.

    Every hook is ``async`` and changes the behaviour of the source for the *following*
    requests, until :meth:`reset`. The kit calls :meth:`reset` before each test.
    """

    async def reset(self) -> None:
        """Back to normal: answer every request at once and correctly."""

    async def fail(self) -> None:
        """Answer every request with "unavailable" (HTTP 503 or the source's equivalent)."""
        raise FaultNotSupported("fail")

    async def hang(self) -> None:
        """Accept every request and never answer it (until the client gives up)."""
        raise FaultNotSupported("hang")

    async def garbage(self) -> None:
        """Answer every request with a malformed body (truncated JSON, HTML, wrong shape)."""
        raise FaultNotSupported("garbage")

    async def deny(self) -> None:
        """Refuse every request as unauthorised (HTTP 401/403 or the source's equivalent),
        as when hedui's credentials have been revoked."""
        raise FaultNotSupported("deny")

    async def rate_limit(self) -> None:
        """Refuse requests beyond a very low rate (HTTP 429 with ``Retry-After``).

        A first request may still be let through; the kit tries a few times.
        """
        raise FaultNotSupported("rate_limit")

    async def asynchronous(self, delay_s: float) -> None:
        """Answer queries with a ticket (PENDING) and make the answer ready ``delay_s`` later."""
        raise FaultNotSupported("asynchronous")

    async def wait_hanging(self, count: int = 1) -> None:
        """Return once at least ``count`` requests are being held by :meth:`hang`.

        The kit bounds this wait with a timeout. The default only lets the query start
        (one turn of the event loop); override it when the double can tell.
        """
        await asyncio.sleep(0)
