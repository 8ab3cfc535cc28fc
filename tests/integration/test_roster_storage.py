"""The roster and re-check job repositories keep one contract on SQLite, PostgreSQL and
the in-memory fake: upsert by (region, household_ref) with the household sealed, keyset
pages in both orders, one job per entry and cycle however many processes enqueue it,
leases that only their owner can use, SKIP LOCKED between replicas (PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.fakes import InMemoryStore
from tests.pii import PiiScanner
from tests.roster import entry_draft, member_ids
from verifier.domain.caller import Caller
from verifier.domain.errors import Conflict
from verifier.domain.ports import NewContent, Schedule, Store
from verifier.domain.roster import JobState, RosterClass, validate_entry
from verifier.service.roster.entries import RosterFilter, RosterService
from verifier.storage.engine import open_database
from verifier.storage.sealing import Sealer
from verifier.storage.uow import SqlStore

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
LATER = date(2026, 4, 1)  # every imported entry is due by then
KEY = bytes(range(32))
CASEWORKER = Caller("county-system", "worker-1", "caseworker", ("3418",))


def sql_store(url: str) -> SqlStore:
    return SqlStore(open_database(url), Sealer("k1", {"k1": KEY}))


@pytest.fixture(params=["sql", "memory"])
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    if request.param == "memory":
        if "postgresql" in database_url:
            pytest.skip("the fake runs once")
        yield InMemoryStore(clock=lambda: NOW)
        return
    s = sql_store(database_url)
    try:
        yield s
    finally:
        await s.aclose()


async def imported(store: Store, n: int = 5) -> RosterService:
    service = RosterService(store, KEY, clock=lambda: NOW)
    await service.import_entries(
        CASEWORKER,
        [entry_draft(f"HH-{i}", last_check=date(2025, 3 - i % 2, 2 + i)) for i in range(n)],
    )
    return service


async def test_upsert_is_idempotent_and_keeps_the_household_sealed(
    store: Store, database_url: str
) -> None:
    service = await imported(store)
    again = await service.import_entries(
        CASEWORKER,
        [entry_draft(f"HH-{i}", last_check=date(2025, 3 - i % 2, 2 + i)) for i in range(5)],
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    changed = await service.import_entries(
        CASEWORKER,
        [entry_draft("HH-0", last_check=date(2025, 3, 2), roster_class=RosterClass.DIBAO_C)],
    )
    assert changed.updated == 1
    view = await service.get(CASEWORKER, "HH-0")
    assert view.record.roster_class is RosterClass.DIBAO_C
    assert view.record.schedule.next_due == date(2025, 9, 2)
    assert [m.subject.id_number for m in view.members] == member_ids("HH-0")
    assert len(view.record.subject_refs) == 2
    if isinstance(store, SqlStore):
        names = ["测试甲", "测试乙"]
        ids = [i for n in range(5) for i in member_ids(f"HH-{n}")]
        findings = await PiiScanner(ids, names).database(store.db)
        assert findings == [], [str(f) for f in findings]


async def test_a_second_add_of_the_same_household_is_a_conflict(store: Store) -> None:
    entry = validate_entry(entry_draft("HH-1"), today=TODAY)
    content = NewContent(entry, ("a" * 64,), "d" * 64, Schedule(TODAY, None))
    async with store.unit_of_work(write=True) as uow:
        await uow.roster.add("e-1", content, owner_system="s", now=NOW)
        with pytest.raises(Conflict):
            await uow.roster.add("e-2", content, owner_system="s", now=NOW)


async def test_pages_in_both_orders_cover_every_entry_once(store: Store) -> None:
    service = await imported(store, 9)
    for flt in (RosterFilter(page_size=2), RosterFilter(page_size=2, due_before=date(2027, 1, 1))):
        seen: list[str] = []
        while True:
            page = await service.list_entries(CASEWORKER, flt)
            seen += [v.record.household_ref for v in page.entries]
            if not page.next_page_token:
                break
            flt = replace(flt, page_token=page.next_page_token)
        assert sorted(seen) == [f"HH-{i}" for i in range(9)]
    by_due = await service.list_entries(CASEWORKER, RosterFilter(overdue=True))
    dues = [v.record.schedule.next_due for v in by_due.entries]
    assert dues == sorted(d for d in dues if d is not None) and dues


async def test_one_job_per_entry_and_cycle(store: Store) -> None:
    await imported(store, 4)
    async with store.unit_of_work(write=True) as uow:
        first = await uow.rechecks.enqueue_due(LATER, NOW, 100)
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        second = await uow.rechecks.enqueue_due(LATER, NOW, 100)
        await uow.commit()
    assert len(first) == 4 and second == []
    assert len({j.request_id for j in first}) == 4
    assert all(j.request_id.startswith("recheck-") for j in first)


async def test_leases_belong_to_their_owner(store: Store) -> None:
    await imported(store, 3)
    until = NOW + timedelta(minutes=2)
    async with store.unit_of_work(write=True) as uow:
        await uow.rechecks.enqueue_due(LATER, NOW, 100)
        jobs = await uow.rechecks.lease("a", NOW, until, 2)
        await uow.commit()
    assert len(jobs) == 2 and all(j.attempts == 1 for j in jobs)
    async with store.unit_of_work(write=True) as uow:
        others = await uow.rechecks.lease("b", NOW, until, 10)
        assert not await uow.rechecks.started(jobs[0].id, "b", "v-1", NOW)
        assert await uow.rechecks.started(jobs[0].id, "a", "v-1", NOW)
        assert await uow.rechecks.finish(jobs[1].id, "a", JobState.FAILED, "x", NOW)
        assert not await uow.rechecks.finish(jobs[1].id, "a", JobState.FAILED, "x", NOW)
        await uow.commit()
    assert len(others) == 1 and others[0].id not in {j.id for j in jobs}
    # An expired lease is taken over.
    later = until + timedelta(seconds=1)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.rechecks.retry_later(others[0].id, "b", later, "busy")
        assert await uow.rechecks.lease("c", NOW + timedelta(seconds=5), until, 10) == []
        again = await uow.rechecks.lease("c", later, later + timedelta(minutes=1), 10)
        await uow.commit()
    assert [j.id for j in again] == [others[0].id] and again[0].attempts == 2
    async with store.unit_of_work(write=True) as uow:
        assert await uow.rechecks.reopen(jobs[1].entry_id, jobs[1].cycle_due, NOW)
        assert (await uow.rechecks.for_cycle(jobs[1].entry_id, jobs[1].cycle_due)) is not None
        await uow.commit()


@pytest.mark.postgres
async def test_replicas_enqueue_one_job_and_skip_each_others_leases(postgres_url: str) -> None:
    a, b = sql_store(postgres_url), sql_store(postgres_url)
    try:
        await imported(a, 6)

        async def enqueue(store: SqlStore) -> int:
            async with store.unit_of_work(write=True) as uow:
                made = await uow.rechecks.enqueue_due(LATER, NOW, 100)
                await uow.commit()
            return len(made)

        assert sum(await asyncio.gather(enqueue(a), enqueue(b))) == 6
        until = NOW + timedelta(minutes=2)
        async with a.unit_of_work(write=True) as held:
            mine = await held.rechecks.lease("a", NOW, until, 4)
            # Replica b does not wait for a's locked rows: it takes the others.
            async with b.unit_of_work(write=True) as other:
                theirs = await asyncio.wait_for(other.rechecks.lease("b", NOW, until, 10), 5)
                await other.commit()
            await held.commit()
        assert len(mine) == 4 and len(theirs) == 2
        assert not {j.id for j in mine} & {j.id for j in theirs}
    finally:
        await a.aclose()
        await b.aclose()
