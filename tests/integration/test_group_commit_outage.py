"""A group-commit batch whose connection dies under one unit's work fails as a whole:
every caller is told the store failed (UNAVAILABLE at the API), none is handed the broken
session (PendingRollbackError, which the API would have answered INTERNAL), and the next
batch runs on a fresh connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncSession

from audit.entry import Actor, EntryDraft
from audit.group_commit import GroupCommitter
from verifier.domain.errors import StoreUnavailable, is_store_failure
from verifier.storage.engine import Database, open_database
from verifier.storage.guard import guard

pytestmark = pytest.mark.postgres


def draft(i: int) -> EntryDraft:
    return EntryDraft(
        actor=Actor("sys", f"user{i}", "caseworker", "370322"),
        action="access_intent",
        outcome="allow",
        case_id=f"C{i}",
        subject_refs=(f"{i:064x}",),
        request_id=f"cut-{i}",
    )


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    database = open_database(postgres_url, pool_size=4)
    yield database
    await database.dispose()


async def _guarded(gc: GroupCommitter, i: int, work: Any) -> Any:
    async with guard():
        return await gc.submit([draft(i)], work)


async def test_a_connection_cut_under_one_unit_fails_the_batch_as_store_unavailable(
    db: Database,
) -> None:
    def work(i: int) -> Any:
        async def run(session: AsyncSession) -> int:
            if i == 1:
                # The database ends this connection, as a restart or a failover would.
                await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
            await session.execute(text("SELECT 1"))
            return i

        return run

    async with GroupCommitter(db.write_sessions, max_batch=4, max_wait=3600) as gc:
        outcomes = await asyncio.gather(
            *(_guarded(gc, i, work(i)) for i in range(4)), return_exceptions=True
        )
        for o in outcomes:
            assert isinstance(o, StoreUnavailable), repr(o)
            assert is_store_failure(o)
            assert not isinstance(o.__context__, PendingRollbackError)
        entries, result = await gc.submit([draft(9)], work(9))
    assert result == 9 and [e.seq for e in entries] == [0]
