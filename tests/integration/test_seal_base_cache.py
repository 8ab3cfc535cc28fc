"""The shared seal bases a process remembers (verifier.storage.reports.SharedBases): a
base is read from the database once, and one seen only by a transaction that rolled back
is never taken as kept — a report sealed against a base that is not in the database could
not be opened again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event

from tests.integration.test_repositories import a_report, add_verification
from verifier.domain.ports import UnitOfWork
from verifier.storage.engine import open_database
from verifier.storage.sealing import Sealer
from verifier.storage.uow import SqlStore

KEYS = {"k1": bytes(range(32))}


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(open_database(database_url), Sealer("k1", KEYS))
    try:
        yield s
    finally:
        await s.aclose()


class _BaseReads:
    """Statements that read ``seal_bases``, on every engine of ``store``."""

    def __init__(self, store: SqlStore) -> None:
        self.count = 0
        self._engines = {id(e): e for e in (store.db.read_engine, store.db.write_engine)}
        for engine in self._engines.values():
            event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "seal_bases" in statement:
            self.count += 1


class Boom(Exception):
    pass


async def test_a_base_seen_only_by_rolled_back_writes_is_written_again(
    store: SqlStore, database_url: str
) -> None:
    await add_verification(store, "v-1")
    await add_verification(store, "v-2", "req-2")
    await add_verification(store, "v-3", "req-3")
    first = a_report(1, 300)

    # A unit of work that wrote the base and its report, then rolled back.
    async with store.unit_of_work(write=True) as uow:
        await uow.reports.add(first)

    # The same through the group committer, whose work then fails.
    async def add_then_fail(uow: UnitOfWork) -> None:
        await uow.reports.add(first)
        raise Boom

    with pytest.raises(Boom):
        await store.write(add_then_fail)

    two, three = a_report(1, 310, vid="v-2"), a_report(1, 320, vid="v-3")

    async def add(uow: UnitOfWork) -> None:
        await uow.reports.add(two)

    await store.write(add)
    async with store.unit_of_work(write=True) as uow:
        await uow.reports.add(three)
        await uow.commit()

    # Another process (nothing remembered) opens both: their base is in the database.
    other = SqlStore(open_database(database_url), Sealer("k1", KEYS))
    try:
        async with other.unit_of_work(write=False) as uow:
            assert await uow.reports.get("v-2", 1) == two
            assert await uow.reports.get("v-3", 1) == three
            assert await uow.reports.get("v-1", 1) is None
    finally:
        await other.aclose()


async def test_a_committed_base_is_not_read_again(store: SqlStore) -> None:
    for n in (1, 2, 3):
        await add_verification(store, f"v-{n}", f"req-{n}")
    reads = _BaseReads(store)

    async def add(uow: UnitOfWork) -> None:
        await uow.reports.add(a_report(1, 300))

    await store.write(add)  # kept here, and known kept once committed
    written = reads.count
    async with store.unit_of_work(write=False) as uow:
        assert await uow.reports.get("v-1", 1) == a_report(1, 300)
    async with store.unit_of_work(write=True) as uow:
        await uow.reports.add(a_report(1, 310, vid="v-2"))
        await uow.commit()
    assert reads.count == written

    # A base first read by a reader (another process wrote it) is remembered too.
    fresh = SqlStore(store.db, Sealer("k1", KEYS))
    reads_before = reads.count
    for _ in range(2):
        async with fresh.unit_of_work(write=False) as uow:
            assert await uow.reports.get("v-2", 1) == a_report(1, 310, vid="v-2")
    assert reads.count == reads_before + 1
