"""The batches and terms repositories keep one contract on SQLite, PostgreSQL and the
in-memory fake: a batch of the same request is one batch, items are leased oldest first
and only once, only the holder moves an item on, cancelling takes the queued items,
a batch completes when nothing is left to run; terms search newest first by filters and
keyset, and the overdue scan flags each check once."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.fakes import InMemoryStore
from tests.helpers import household_draft
from verifier.domain.batches import (
    BatchCounts,
    BatchRecord,
    BatchState,
    ItemRefusal,
    ItemState,
    NewItem,
)
from verifier.domain.errors import Conflict, FieldViolation
from verifier.domain.household import VerificationRequest, validate_request
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports import (
    Store,
    UnitOfWork,
    VerificationQuery,
    VerificationRecord,
    VerificationTerms,
)
from verifier.storage.engine import open_database
from verifier.storage.sealing import Sealer
from verifier.storage.uow import SqlStore

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
OWNER = "replica-a"


@pytest.fixture(params=["sql", "memory"])
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    if request.param == "memory":
        if "postgresql" in database_url:
            pytest.skip("the fake runs once")
        yield InMemoryStore()
        return
    s = SqlStore(open_database(database_url), Sealer("k1", {"k1": os.urandom(32)}))
    try:
        yield s
    finally:
        await s.aclose()


def checked(request_id: str, region: str = "370322") -> VerificationRequest:
    return validate_request(household_draft(request_id, region), today=T0.date())


def batch(request_id: str = "batch-1", items: int = 3, at: datetime = T0) -> BatchRecord:
    return BatchRecord(
        id=str(uuid.uuid4()),
        caller_system="case-system-a",
        caller_user="worker-1",
        caller_role="caseworker",
        caller_region="3703,3415",
        request_id=request_id,
        request_digest="d" * 64,
        state=BatchState.RUNNING,
        item_count=items,
        created_at=at,
    )


REFUSED = ItemRefusal(
    1,
    "k-1",
    ItemState.REFUSED,
    (FieldViolation("items[1].request.household.region_code", "must be a 6-digit code"),),
)


def items(b: BatchRecord) -> list[NewItem]:
    return [
        NewItem(0, "k-0", checked("k-0")),
        NewItem(1, "k-1", None, REFUSED),
        NewItem(2, "k-2", checked("k-2")),
    ][: b.item_count]


async def add(store: Store, b: BatchRecord, new: list[NewItem] | None = None) -> None:
    async def work(uow: UnitOfWork) -> None:
        await uow.batches.add(b, items(b) if new is None else new)

    await store.write(work)


async def test_a_batch_is_stored_with_its_refusals_and_a_second_of_the_same_request_conflicts(
    store: Store,
) -> None:
    b = batch()
    await add(store, b)
    async with store.unit_of_work(write=False) as uow:
        assert await uow.batches.get(b.id) == b
        assert await uow.batches.find_by_request("case-system-a", "batch-1") == b
        assert await uow.batches.find_by_request("case-system-b", "batch-1") is None
        assert await uow.batches.counts(b.id) == BatchCounts(queued=2, refused=1)
        assert await uow.batches.refusals(b.id) == [REFUSED]
    assert b.caller_regions == ("3703", "3415")
    with pytest.raises(Conflict):
        await add(store, batch())


async def test_items_are_leased_oldest_batch_first_once_and_again_after_expiry(
    store: Store,
) -> None:
    older, newer = batch("b-old"), batch("b-new", at=T0 + timedelta(minutes=1))
    await add(store, newer)
    await add(store, older)

    async def claim(now: datetime, limit: int, owner: str = OWNER) -> list[tuple[str, int]]:
        async def work(uow: UnitOfWork) -> list[tuple[str, int]]:
            got = await uow.batches.claim(owner, now, now + timedelta(minutes=1), limit)
            for c in got:
                assert c.request is not None and c.request.request_id == c.item_key
                assert c.caller_regions == ("3703", "3415") and c.verification_id is None
            return [(c.batch_id, c.index) for c in got]

        return await store.write(work)

    assert await claim(T0, 3) == [(older.id, 0), (older.id, 2), (newer.id, 0)]
    assert await claim(T0, 10) == [(newer.id, 2)]
    assert await claim(T0, 10) == []
    async with store.unit_of_work(write=False) as uow:
        assert not await uow.batches.has_work(T0)
        assert await uow.batches.counts(older.id) == BatchCounts(running=2, refused=1)
    # Nobody renewed the leases: another replica takes them over, request and all.
    later = T0 + timedelta(minutes=2)
    async with store.unit_of_work(write=False) as uow:
        assert await uow.batches.has_work(later)
    assert len(await claim(later, 10, owner="replica-b")) == 4


async def test_only_the_holder_moves_an_item_on_and_a_batch_completes_when_nothing_is_left(
    store: Store,
) -> None:
    b = batch()
    await add(store, b)
    vid = str(uuid.uuid4())

    async def work(uow: UnitOfWork) -> tuple[bool, ...]:
        await uow.batches.claim(OWNER, T0, T0 + timedelta(minutes=1), 10)
        wrong = await uow.batches.started(b.id, 0, "replica-b", vid, T0)
        right = await uow.batches.started(b.id, 0, OWNER, vid, T0 + timedelta(minutes=5))
        done = await uow.batches.finish(b.id, 0, OWNER, ItemState.DONE, T0, verification_id=vid)
        await uow.batches.lock(b.id)
        early = await uow.batches.complete_if_finished(b.id, T0)
        denied = ItemRefusal(2, "k-2", ItemState.DENIED, reason="OUT_OF_REGION")
        await uow.batches.finish(b.id, 2, OWNER, ItemState.DENIED, T0, refusal=denied)
        again = await uow.batches.finish(b.id, 2, OWNER, ItemState.DONE, T0)
        return wrong, right, done, early is None, again

    assert await store.write(work) == (False, True, True, True, False)

    async def complete(uow: UnitOfWork) -> BatchRecord | None:
        await uow.batches.lock(b.id)
        return await uow.batches.complete_if_finished(b.id, T0 + timedelta(seconds=1))

    finished = await store.write(complete)
    assert finished is not None and finished.state is BatchState.DONE
    assert finished.completed_at == T0 + timedelta(seconds=1)
    assert await store.write(complete) is None  # once
    async with store.unit_of_work(write=False) as uow:
        assert await uow.batches.counts(b.id) == BatchCounts(done=1, refused=1, denied=1)
        assert [(r.index, r.state, r.reason) for r in await uow.batches.refusals(b.id)] == [
            (1, ItemState.REFUSED, ""),
            (2, ItemState.DENIED, "OUT_OF_REGION"),
        ]
    with pytest.raises(ValueError, match="final"):
        await store.write(lambda uow: uow.batches.finish(b.id, 0, OWNER, ItemState.QUEUED, T0))


async def test_cancelling_takes_the_queued_items_and_the_running_ones_finish(
    store: Store,
) -> None:
    b = batch()
    await add(store, b)

    async def work(uow: UnitOfWork) -> tuple[int, bool, BatchRecord | None]:
        await uow.batches.claim(OWNER, T0, T0 + timedelta(minutes=1), 1)  # item 0 runs
        cancelled = await uow.batches.cancel(b.id, T0)
        await uow.batches.lock(b.id)
        early = await uow.batches.complete_if_finished(b.id, T0)
        more = await uow.batches.has_work(T0)
        return cancelled, more, early

    assert await store.write(work) == (1, False, None)

    async def finish(uow: UnitOfWork) -> BatchRecord | None:
        await uow.batches.finish(b.id, 0, OWNER, ItemState.DONE, T0)
        await uow.batches.lock(b.id)
        return await uow.batches.complete_if_finished(b.id, T0)

    finished = await store.write(finish)
    assert finished is not None and finished.state is BatchState.CANCELLED
    assert finished.cancel_requested
    async with store.unit_of_work(write=False) as uow:
        assert await uow.batches.counts(b.id) == BatchCounts(done=1, refused=1, cancelled=1)


async def test_two_replicas_claiming_at_once_never_take_the_same_item(database_url: str) -> None:
    key = os.urandom(32)
    a, c = (SqlStore(open_database(database_url), Sealer("k1", {"k1": key})) for _ in range(2))
    try:
        b = batch(items=40)
        await add(a, b, [NewItem(i, f"k-{i}", checked(f"k-{i}")) for i in range(40)])

        async def claim(store: SqlStore, owner: str) -> list[int]:
            taken: list[int] = []
            for _ in range(10):
                async with store.unit_of_work(write=True) as uow:
                    got = await uow.batches.claim(owner, T0, T0 + timedelta(minutes=1), 3)
                    await asyncio.sleep(0.01)  # hold the row locks while the other claims
                    await uow.commit()
                taken += [g.index for g in got]
            return taken

        mine, theirs = await asyncio.gather(claim(a, "replica-a"), claim(c, "replica-b"))
    finally:
        await a.aclose()
        await c.aclose()
    assert not set(mine) & set(theirs)
    assert sorted(mine + theirs) == list(range(40))


# --------------------------------------------------------------------------- terms
def record(vid: str, at: datetime, *, region: str = "370322", system: str = "case-system-a",
           case_id: str = "CASE-1", state: VerificationState = VerificationState.RUNNING,
           ) -> VerificationRecord:  # fmt: skip
    return VerificationRecord(
        id=vid,
        caller_system=system,
        caller_user="worker-1",
        request_id=f"r-{vid[-12:]}",
        request_digest="d" * 64,
        case_id=case_id,
        region=region,
        state=state,
        completeness=None,
        latest_version=0,
        created_at=at,
        member_count=3,
        source_count=2,
    )


async def seed(
    store: Store, rows: list[tuple[VerificationRecord, VerificationTerms | None]]
) -> None:
    async def work(uow: UnitOfWork) -> None:
        for r, t in rows:
            await uow.verifications.add(
                r, checked(r.request_id, r.region), "SQ-1", run_lease=("x", r.created_at)
            )
            if r.state is not VerificationState.RUNNING:
                await uow.verifications.set_state(r.id, r.state, None, 0, r.created_at)
            if t is not None:
                await uow.terms.add(t)

    await store.write(work)


def vid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def terms(n: int, *, urgent: bool = False, due: datetime | None = None,
          batch_id: str | None = None) -> VerificationTerms:  # fmt: skip
    return VerificationTerms(vid(n), urgent, due.date() if due else None, due, batch_id=batch_id)


async def test_search_filters_scope_and_pages_newest_first(store: Store) -> None:
    b = str(uuid.uuid4())
    past, future = T0 - timedelta(hours=1), T0 + timedelta(days=3)
    await seed(
        store,
        [
            (record(vid(1), T0 - timedelta(days=3)), terms(1, due=past)),
            (record(vid(2), T0 - timedelta(days=2), case_id="CASE-2"), terms(2, urgent=True)),
            (record(vid(3), T0 - timedelta(days=2)), terms(3, due=future, batch_id=b)),
            (record(vid(4), T0 - timedelta(days=1), region="341824"), None),
            (record(vid(5), T0, state=VerificationState.DONE), terms(5, due=past)),
            (record(vid(6), T0, system="case-system-b"), None),
            (record(vid(7), T0, region="370305"), terms(7, batch_id=b)),
        ],
    )

    async def ids(**kw: object) -> list[int]:
        base: dict[str, object] = {
            "caller_system": "case-system-a",
            "regions": ("3703", "3418"),
            "now": T0,
            "limit": 10,
        }
        base.update(kw)
        async with store.unit_of_work(write=False) as uow:
            found = await uow.terms.search(VerificationQuery(**base))  # type: ignore[arg-type]
        return [int(x.record.id[-12:]) for x in found]

    assert await ids() == [7, 5, 4, 3, 2, 1]  # newest first; equal times by id, descending
    assert await ids(regions=("370322",)) == [5, 3, 2, 1]
    assert await ids(regions=()) == []
    assert await ids(region_prefix="3418") == [4]
    assert await ids(case_id="CASE-2") == [2]
    assert await ids(state=VerificationState.DONE) == [5]
    assert await ids(overdue=True) == [1]  # 5 is past due but DONE
    assert await ids(overdue=False) == [7, 5, 4, 3, 2]
    assert await ids(urgent=True) == [2]
    assert await ids(urgent=False) == [7, 5, 4, 3, 1]
    assert await ids(batch_id=b) == [7, 3]
    day = T0 - timedelta(days=2)
    assert await ids(created_from=day, created_before=day + timedelta(days=1)) == [3, 2]
    # Keyset pages: each page starts after the previous page's last row.
    first = await ids(limit=2)
    assert first == [7, 5]
    after_5 = (T0, vid(5))
    assert await ids(limit=2, after=after_5) == [4, 3]
    assert await ids(limit=10, after=(T0 - timedelta(days=2), vid(2))) == [1]
    async with store.unit_of_work(write=False) as uow:
        assert await uow.terms.get(vid(3)) == terms(3, due=future, batch_id=b)
        assert await uow.terms.get(vid(4)) is None


async def test_the_overdue_scan_flags_each_check_once(store: Store) -> None:
    await seed(
        store,
        [
            (record(vid(1), T0), terms(1, due=T0 - timedelta(hours=2))),
            (record(vid(2), T0), terms(2, due=T0 - timedelta(hours=5))),
            (record(vid(3), T0), terms(3, due=T0 + timedelta(hours=1))),
            (record(vid(4), T0, state=VerificationState.DONE), terms(4, due=T0 - timedelta(1))),
        ],
    )
    async with store.unit_of_work(write=False) as uow:
        found = await uow.terms.overdue_unflagged(T0, 10)
    assert [r.id for r, _ in found] == [vid(2), vid(1)]  # longest overdue first

    async def flag(uow: UnitOfWork) -> list[bool]:
        return [await uow.terms.flag_overdue(vid(2), T0), await uow.terms.flag_overdue(vid(2), T0)]

    assert await store.write(flag) == [True, False]
    async with store.unit_of_work(write=False) as uow:
        assert [r.id for r, _ in await uow.terms.overdue_unflagged(T0, 10)] == [vid(1)]
        flagged = await uow.terms.get(vid(2))
    assert flagged is not None and flagged.overdue_flagged_at == T0
    assert flagged.due_date == date(2026, 12, 1)
