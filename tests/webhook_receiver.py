"""A webhook receiver as a subscriber would write one: aiohttp on a free loopback port,
each request verified with the ``standardwebhooks`` library's ``Webhook.verify``, each
event processed once by webhook-id (a repeat is acknowledged and not processed again)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Receiver:
    """``status()`` says what to answer (e.g. 503 while "down"); an event is processed
    only when it is answered 2xx. ``hold`` makes the first request wait for ``release``
    after it was processed (a sender killed while waiting for the answer)."""

    secret: str
    status: Callable[[], int] = lambda: 200
    hold: bool = False
    requests: list[str] = field(default_factory=list)
    """The webhook-id of every request that verified, in arrival order."""
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each event processed, once, by webhook-id: the deduplicated view."""
    duplicates: int = 0
    refused: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            doc = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.refused += 1
            return web.Response(status=401)
        msg_id = request.headers["webhook-id"]
        self.requests.append(msg_id)
        status = self.status()
        if 200 <= status < 300:
            if msg_id in self.processed:
                self.duplicates += 1
            else:
                self.processed[msg_id] = doc
        self.arrived.set()
        if self.hold:
            self.hold = False
            await self.release.wait()
        return web.Response(status=status, text=json.dumps({"ok": status < 300}))

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hooks"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
