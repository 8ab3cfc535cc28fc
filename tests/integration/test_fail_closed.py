"""Fail closed: while the audit log cannot be written, checks fail UNAVAILABLE, nothing is
stored, health says NOT_SERVING; all of it recovers by itself when the store is back."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter
from tests.helpers import SYSTEM, make_app
from tests.integration.test_grpc_api import good_request
from verifier.api.client import Client
from verifier.bootstrap import serve_app
from verifier.storage.uow import SqlStore

SERVICE = "hedui.v1.VerificationService"


@contextlib.asynccontextmanager
async def audit_store_blocked(database_url: str) -> AsyncIterator[None]:
    """Another holder takes the audit head away (an exclusive lock) until released.

    The lock is taken in a thread: waiting for it on the event loop would stop the
    server's own transactions from finishing, and so from ever releasing the lock."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":

        def lock() -> sqlite3.Connection:
            conn = sqlite3.connect(
                str(url.database), isolation_level=None, timeout=10, check_same_thread=False
            )
            conn.execute("BEGIN EXCLUSIVE")
            return conn

        conn = await asyncio.to_thread(lock)
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)

    def pg_lock() -> psycopg.Connection:
        pg = psycopg.connect(dsn)
        pg.execute("LOCK TABLE audit_head IN ACCESS EXCLUSIVE MODE")
        return pg

    pg = await asyncio.to_thread(pg_lock)
    try:
        yield
    finally:
        pg.rollback()
        pg.close()


async def health_states(target: str) -> AsyncIterator[int]:
    async with grpc.aio.insecure_channel(target) as ch:
        async for r in health_pb2_grpc.HealthStub(ch).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE)
        ):
            yield r.status


async def wait_for(target: str, status: int) -> None:
    async for s in health_states(target):
        if s == status:
            return


async def test_unwritable_audit_store_fails_closed_and_recovers(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(
        database_url, keys_dir, {SourceKind.TAX: FakeAdapter(SourceKind.TAX)}, lock_timeout_ms=300
    )
    server = await serve_app(app, "127.0.0.1:0", health_interval=0.05)
    target = f"127.0.0.1:{server.port}"
    assert isinstance(app.store, SqlStore)
    try:
        await wait_for(target, health_pb2.HealthCheckResponse.SERVING)
        async with Client(target, user="w", system=SYSTEM) as c:
            async with audit_store_blocked(database_url):
                with pytest.raises(grpc.aio.AioRpcError) as ei:
                    await c.create(good_request())
                assert ei.value.code() is grpc.StatusCode.UNAVAILABLE
                await wait_for(target, health_pb2.HealthCheckResponse.NOT_SERVING)
            await wait_for(target, health_pb2.HealthCheckResponse.SERVING)
            async with app.store.db.read_sessions() as s:
                assert (
                    await s.execute(text("SELECT count(*) FROM verifications"))
                ).scalar_one() == 0
                assert (
                    await s.execute(text("SELECT count(*) FROM audit_entries"))
                ).scalar_one() == 0
            v = await c.create(good_request())
            assert v.latest_report_version == 1
    finally:
        await server.stop(0)
        await app.aclose()
