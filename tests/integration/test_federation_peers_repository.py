"""Federation peers' trust state keeps one contract on SQLite, PostgreSQL and the
in-memory fake: no row until a peer is trusted; the latest state replaces the earlier;
nothing is kept from a unit of work that was not committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.stores import STORE_KINDS, store_under_test
from verifier.domain.ports import Store
from verifier.domain.ports.peers import PeerState, PeerTrust, StoredAnswer
from verifier.storage.uow import SqlStore

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
KIDS = ("a" * 64, "b" * 64)


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    async with store_under_test(request.param, database_url, T0) as s:
        yield s


async def test_trust_is_recorded_replaced_and_listed(store: Store) -> None:
    async with store.unit_of_work(write=False) as uow:
        assert await uow.peers.get("hedui-linzi") is None
        assert await uow.peers.all() == []
    trusted = PeerTrust("hedui-linzi", PeerState.TRUSTED, KIDS, T0, "ops-1")
    async with store.unit_of_work(write=True) as uow:
        await uow.peers.put(trusted)
        await uow.peers.put(PeerTrust("hedui-jixi", PeerState.TRUSTED, KIDS[:1], T0, "ops-1"))
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.peers.get("hedui-linzi") == trusted
    revoked = PeerTrust("hedui-linzi", PeerState.REVOKED, KIDS, T0 + timedelta(hours=1), "ops-2")
    async with store.unit_of_work(write=True) as uow:
        await uow.peers.put(revoked)
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert [p.name for p in await uow.peers.all()] == ["hedui-jixi", "hedui-linzi"]
        assert await uow.peers.get("hedui-linzi") == revoked


async def test_an_uncommitted_change_leaves_nothing(store: Store) -> None:
    async with store.unit_of_work(write=True) as uow:
        await uow.peers.put(PeerTrust("hedui-linzi", PeerState.TRUSTED, KIDS, T0, "ops-1"))
    async with store.unit_of_work(write=False) as uow:
        assert await uow.peers.get("hedui-linzi") is None


async def test_an_answer_is_kept_sealed_and_read_back_by_its_request(store: Store) -> None:
    answer = StoredAnswer("hedui-gaoqing", "req-1", "d" * 64, b'{"payload": "x"}', 7, T0)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.answers.get("hedui-gaoqing", "req-1") is None
        await uow.answers.add(answer)
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.answers.get("hedui-gaoqing", "req-1") == answer
        assert await uow.answers.get("hedui-jixi", "req-1") is None
    if isinstance(store, SqlStore):
        async with store.db.read_sessions() as s:
            sealed = (await s.execute(text("SELECT envelope_sealed FROM federation_answers"))).one()
        assert b"payload" not in bytes(sealed[0])
