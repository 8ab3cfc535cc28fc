"""Reading a hedui app's SQL database in tests: what a test asserts on, never how it writes."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from verifier.bootstrap import App
from verifier.storage.engine import Database, open_database
from verifier.storage.uow import SqlStore


def sql_db(app: App) -> Database:
    """The database of ``app``, which must run on SQL."""
    assert isinstance(app.store, SqlStore)
    return app.store.db


async def sql_scalar(app: App, sql: str) -> Any:
    """The one value ``sql`` reads from the database of ``app``."""
    async with sql_db(app).read_sessions() as s:
        return (await s.execute(text(sql))).scalar_one()


async def audit_bodies(app: App, action: str | None = None) -> list[dict[str, Any]]:
    """The audit entries of ``action`` (None: all of them), as JSON bodies, oldest first."""
    which = "" if action is None else " WHERE action = :a"
    async with sql_db(app).read_sessions() as s:
        rows = await s.execute(
            text(f"SELECT body FROM audit_entries{which} ORDER BY seq"), {"a": action}
        )
        return [json.loads(r[0]) for r in rows]


async def audit_bodies_at(url: str) -> list[dict[str, Any]]:
    """Every audit entry of the database at ``url``, as JSON bodies, oldest first: for a
    database the test holds no app of (a command's, or a store's under test)."""
    db = open_database(url)
    try:
        async with db.read_sessions() as s:
            rows = (await s.execute(text("SELECT body FROM audit_entries ORDER BY seq"))).all()
    finally:
        await db.dispose()
    return [json.loads(bytes(r[0])) for r in rows]
