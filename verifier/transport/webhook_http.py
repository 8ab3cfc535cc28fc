"""Webhook POSTs over HTTP with aiohttp: the :class:`Transport` port's implementation."""

from __future__ import annotations

import time
from collections.abc import Mapping

import aiohttp

from verifier.domain.ports.webhook_transport import Answer, Transport

USER_AGENT = "hedui-webhooks/1"


class HttpTransport(Transport):
    """aiohttp, one connection pool for every subscriber. Redirects are not followed
    (a 3xx is an answer that is not 2xx: retried), as the specification asks."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"user-agent": USER_AGENT}, trust_env=False
            )
        return self._session

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Answer:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            async with self._client().post(
                url,
                data=body,
                headers=dict(headers),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                # Read (and drop) a little of the answer so the connection can be reused.
                await resp.content.read(4096)
                return Answer(resp.status, f"http_{resp.status}", elapsed())
        except TimeoutError:
            return Answer(None, "timeout", elapsed())
        except (aiohttp.ClientError, OSError, ValueError):
            return Answer(None, "connection_error", elapsed())

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
