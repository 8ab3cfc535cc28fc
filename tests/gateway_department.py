"""Shared ground for the gateway adapter's strictness tests: a scripted department (a real
aiohttp server on loopback, the ``department`` fixture) that answers exactly what each test
says, the adapter pointed at it (the ``adapter`` fixture), and the answers and query the
tests start from.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from aiohttp import web

from hedui_sdk import (
    IdType,
    Secret,
    SourceKind,
    SourceQuery,
    Subject,
    Window,
    mask_id_number,
    resident_id,
)
from hedui_sdk.builtin import GatewayAdapter
from hedui_sdk.contract import AdapterSettings

ID_NUMBER = resident_id.make("370281", date(1972, 5, 9), 37)
SUBJECT = Subject(IdType.RESIDENT_ID, ID_NUMBER, "李四")
TOKEN = "department-token-xyz"


def assert_absent(secret: str, text: str) -> None:
    """Fail if ``secret`` (an ID number or name) shows in ``text``, without printing it."""
    if secret and secret in text:
        raise AssertionError(f"found {mask_id_number(secret)} ({len(secret)} chars) in output")


INCOME = {
    "type": "income",
    "record_id": "T-1",
    "category": "wages",
    "kind": "salary",
    "period_start": "2025-03-01",
    "period_end": "2025-03-31",
    "amount_fen": 185000,
    "payer": "某公司",
}
ASSET = {
    "type": "asset",
    "record_id": "R-1",
    "category": "real_estate",
    "kind": "residential",
    "value_fen": 19678680,
    "count": 1,
    "area_m2": "38.36",
    "details": {"usage": "住宅"},
}
FOUND: dict[str, Any] = {
    "status": "FOUND",
    "as_of": "2025-12-31T23:59:59+08:00",
    "records": [INCOME, ASSET],
}


@dataclass
class Script:
    """What the scripted department answers next, and what it was asked."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)
    hang: bool = False
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = headers or {}


@pytest.fixture
async def department() -> AsyncIterator[tuple[Script, str]]:
    script = Script()

    async def handle(request: web.Request) -> web.Response:
        script.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": await request.read(),
            }
        )
        if script.hang:
            await script.released.wait()
        return web.Response(
            status=script.status,
            body=script.body,
            headers=script.headers,
            content_type="application/json",
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield script, f"http://127.0.0.1:{port}/dept/"
    finally:
        script.released.set()
        await runner.cleanup()


@pytest.fixture
async def adapter(department: tuple[Script, str]) -> AsyncIterator[GatewayAdapter]:
    _, base = department
    settings = AdapterSettings(base_url=base, credentials={"token": Secret(TOKEN)}, timeout=5)
    gateway = GatewayAdapter(SourceKind.REAL_ESTATE, "test-gateway", "9.9.9", settings)
    try:
        yield gateway
    finally:
        await gateway.aclose()


def query() -> SourceQuery:
    return SourceQuery(
        subject=SUBJECT,
        window=Window(date(2025, 1, 1), date(2025, 12, 31)),
        region="370281",
        purposes=("dibao", "tekun"),
        request_id="req-42",
        deadline=time.monotonic() + 5,
    )
