"""Shared ground for the sandbox server tests: a sandbox on loopback (the ``sandbox``
fixture) with a raw HTTP client (the ``client`` fixture), its population, request bodies
and credentials.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from hedui_sdk import SourceKind, mask_id_number
from hedui_sdk.sandbox import Person, Population, SandboxHandle, generate_population, start_sandbox


@functools.cache
def population() -> Population:
    return generate_population(3, households_per_county=30)


def body_for(
    person: Person, source: SourceKind, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    as_of = population().as_of
    body: dict[str, Any] = {
        "source": source.value,
        "subject": {"id_type": "resident_id", "id_number": person.id_number, "name": person.name},
        "window": {"start": (as_of - timedelta(days=364)).isoformat(), "end": as_of.isoformat()},
        "region": "370305",
        "purposes": ["dibao"],
    }
    body.update(overrides or {})
    return body


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    handle = await start_sandbox(population=population(), admin_token="admin-secret")
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
async def client(sandbox: SandboxHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        yield http


def auth(sandbox: SandboxHandle, source: SourceKind) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.token(source)}"}


def assert_absent(secret: str, text: str) -> None:
    """Fail if ``secret`` (an ID number or name) shows in ``text``, without printing it."""
    if secret and secret in text:
        raise AssertionError(f"found {mask_id_number(secret)} ({len(secret)} chars) in output")
