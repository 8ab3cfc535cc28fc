"""The stores a repository contract test runs against: SQL (SQLite or PostgreSQL, as the
suite's ``database_url`` says) and the in-memory fake."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from tests.fakes import InMemoryStore
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports import Store, VerificationRecord
from verifier.storage.engine import open_database
from verifier.storage.sealing import Sealer
from verifier.storage.uow import SqlStore

STORE_KINDS = ["sql", "memory"]
"""The ``params`` of a contract test's ``store`` fixture."""


@contextlib.asynccontextmanager
async def store_under_test(kind: str, database_url: str, now: datetime) -> AsyncIterator[Store]:
    """A store of ``kind``; the fake's clock stands at ``now``.

    The fake does not depend on the database, so it runs in the SQLite pass only."""
    if kind == "memory":
        if "postgresql" in database_url:
            pytest.skip("the fake runs once")
        yield InMemoryStore(clock=lambda: now)
        return
    s = SqlStore(open_database(database_url), Sealer("k1", {"k1": bytes(range(32))}))
    try:
        yield s
    finally:
        await s.aclose()


def running_record(
    vid: str, request_id: str, created_at: datetime, **kw: object
) -> VerificationRecord:
    """A RUNNING verification's record for a repository test; ``kw`` overrides fields."""
    base: dict[str, object] = dict(
        id=vid,
        caller_system="sys-a",
        caller_user="worker-1",
        request_id=request_id,
        request_digest="d" * 64,
        case_id="CASE-1",
        region="370322",
        state=VerificationState.RUNNING,
        completeness=None,
        latest_version=0,
        created_at=created_at,
        member_count=3,
        source_count=2,
        caller_role="caseworker",
        caller_region="3703",
    )
    base.update(kw)
    return VerificationRecord(**base)  # type: ignore[arg-type]
