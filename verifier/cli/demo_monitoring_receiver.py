"""The monitoring demo's webhook receiver: a case system's endpoint that verifies each
delivery with the ``standardwebhooks`` library and processes each ``webhook-id`` once."""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

WAIT_SECONDS = 120.0


class StepFailed(Exception):
    """A step did not check out; the message says which and why (never personal data)."""


@dataclass
class Receiver:
    """A case system's webhook endpoint: verifies each delivery's Standard Webhooks
    signature over the exact bytes received, and processes each ``webhook-id`` once."""

    secret: str
    deliveries: Counter[str] = field(default_factory=Counter)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: int = 0
    port: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hedui/webhooks", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # Bound here, on a free loopback port, so the port is known before the server's
        # configuration names the URL.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.setblocking(False)
        await web.SockSite(self._runner, sock).start()
        self.port = int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.refused += 1
            return web.Response(status=401)
        wid = request.headers["webhook-id"]
        self.deliveries[wid] += 1
        if wid in self.events:
            return web.Response(status=200)  # a retry of one already processed
        self.events[wid] = payload
        async with self._changed:
            self._changed.notify_all()
        return web.Response(status=204)

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], what: str
    ) -> tuple[str, dict[str, Any]]:
        """The first processed event ``match`` accepts, waiting for deliveries."""
        async with self._changed:
            try:
                async with asyncio.timeout(WAIT_SECONDS):
                    while True:
                        for wid, event in self.events.items():
                            if match(event):
                                return wid, event
                        await self._changed.wait()
            except TimeoutError:
                raise StepFailed(
                    f"no verified {what} webhook within {WAIT_SECONDS:.0f} s"
                ) from None


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
