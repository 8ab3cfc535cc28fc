"""The storage of federated checks keeps one contract on SQLite, PostgreSQL and the
in-memory fake: an outcome keeps the deployment that answered it and its fragment's
hash; a peer's fragment is kept once per check (sealed: its bytes are not in the
table), read back in hash order; retries of asks to peers are scheduled (a kept one
stands: its deadline, attempts and lease), claimed when due by one owner at a time,
rescheduled (lease released) and finished only by their holder; a
peer's rate bucket gives at most its rate a minute, refilled as time passes. PostgreSQL:
two concurrent claims take different retries, and concurrent takes never exceed the
bucket."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from hedui_sdk import SourceKind
from tests.helpers import household_draft
from tests.stores import STORE_KINDS, running_record, store_under_test
from verifier.domain.fragment import EmbeddedFragment
from verifier.domain.household import validate_request
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.domain.ports import PeerRetry, Store
from verifier.storage.engine import open_database
from verifier.storage.rewrap import rewrap
from verifier.storage.sealing import Sealer, SealError
from verifier.storage.uow import SqlStore

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    async with store_under_test(request.param, database_url, T0) as s:
        yield s


async def _check(store: Store, vid: str) -> None:
    request = validate_request(household_draft(f"req-{vid}"), today=T0.date())
    async with store.unit_of_work(write=True) as uow:
        await uow.verifications.add(
            running_record(vid, f"req-{vid}", T0), request, "SQ-1", run_lease=("o", T0)
        )
        await uow.commit()


def _fragment(body: bytes, peer: str = "hedui-linzi") -> EmbeddedFragment:
    return EmbeddedFragment(peer, "k" * 64, hashlib.sha256(body).hexdigest(), 41, body)


def _retry(vid: str, ask: str, next_at: datetime, peer: str = "hedui-linzi") -> PeerRetry:
    return PeerRetry(
        vid, peer, ask, (0, 2), (SourceKind.TAX, SourceKind.BANK),
        deadline_at=T0 + timedelta(days=3), next_at=next_at, attempts=1,
    )  # fmt: skip


async def test_an_outcome_keeps_the_deployment_that_answered_and_its_fragment(
    store: Store,
) -> None:
    await _check(store, "v-1")
    sha = "f" * 64
    outcomes = [
        SourceOutcome(0, SourceKind.TAX, SourceStatus.NOT_FOUND, "fake-tax", "1"),
        SourceOutcome(
            1, SourceKind.BANK, SourceStatus.NOT_FOUND, "fake-bank", "1",
            deployment="hedui-linzi", fragment_sha256=sha,
        ),
    ]  # fmt: skip
    async with store.unit_of_work(write=True) as uow:
        await uow.outcomes.store("v-1", outcomes, T0)
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.outcomes.load("v-1") == outcomes
    # A later answer from another peer replaces it (the update path).
    later = [replace(outcomes[1], deployment="hedui-jixi", fragment_sha256="e" * 64)]
    async with store.unit_of_work(write=True) as uow:
        await uow.outcomes.store("v-1", later, T0 + timedelta(minutes=1))
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.outcomes.load("v-1") == [outcomes[0], later[0]]


async def test_a_fragment_is_kept_once_sealed_and_read_back_in_hash_order(store: Store) -> None:
    await _check(store, "v-1")
    await _check(store, "v-2")
    frags = [_fragment(b'{"payload": "%d"}' % i) for i in range(3)]
    async with store.unit_of_work(write=True) as uow:
        for f in frags:
            await uow.fragments.add("v-1", f, T0)
        await uow.fragments.add("v-1", frags[0], T0 + timedelta(minutes=1))  # again: no-op
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        await uow.fragments.add("v-2", frags[0], T0)  # not committed: nothing kept
    async with store.unit_of_work(write=False) as uow:
        assert await uow.fragments.of("v-1") == sorted(frags, key=lambda f: f.envelope_sha256)
        assert await uow.fragments.of("v-2") == []
    if isinstance(store, SqlStore):
        async with store.db.read_sessions() as s:
            rows = (await s.execute(text("SELECT envelope_sealed FROM federation_fragments"))).all()
        assert len(rows) == 3 and all(b"payload" not in bytes(r[0]) for r in rows)


async def test_a_sealed_fragment_moved_to_another_check_does_not_open(
    database_url: str,
) -> None:
    store = SqlStore(open_database(database_url), Sealer("k1", {"k1": bytes(range(32))}))
    try:
        await _check(store, "v-1")
        await _check(store, "v-2")
        async with store.unit_of_work(write=True) as uow:
            await uow.fragments.add("v-1", _fragment(b"{}"), T0)
            await uow.commit()
        async with store.db.write_sessions() as s:
            await s.execute(text("UPDATE federation_fragments SET verification_id = 'v-2'"))
            await s.commit()
        async with store.unit_of_work(write=False) as uow:
            with pytest.raises(SealError):
                await uow.fragments.of("v-2")
    finally:
        await store.aclose()


async def test_retries_are_scheduled_claimed_rescheduled_and_finished(store: Store) -> None:
    await _check(store, "v-1")
    await _check(store, "v-2")
    early = _retry("v-1", "ask-1", T0)
    late = _retry("v-2", "ask-2", T0 + timedelta(minutes=10))
    async with store.unit_of_work(write=True) as uow:
        await uow.federation_retries.schedule(late)
        await uow.federation_retries.schedule(early)
        # Scheduled again (a resumed run asking again): the kept one stands.
        await uow.federation_retries.schedule(
            replace(early, attempts=0, deadline_at=T0 + timedelta(days=9))
        )
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.federation_retries.pending("v-1")
        assert not await uow.federation_retries.pending("v-3")
        assert await uow.federation_retries.has_due(T0)
        assert not await uow.federation_retries.has_due(T0 - timedelta(seconds=1))

    async with store.unit_of_work(write=True) as uow:
        assert await uow.federation_retries.claim_due(T0, "proc-a", LEASE, 10) == [early]
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        # Leased: another process finds nothing due until the lease ends.
        assert not await uow.federation_retries.has_due(T0 + timedelta(minutes=1))
        assert await uow.federation_retries.claim_due(T0, "proc-b", LEASE, 10) == []
        await uow.commit()
    after_lease = T0 + LEASE + timedelta(seconds=1)
    async with store.unit_of_work(write=True) as uow:
        # The lease ended (its process died): the retry is claimed again.
        assert await uow.federation_retries.claim_due(after_lease, "proc-b", LEASE, 1) == [early]
        await uow.commit()

    again = T0 + timedelta(minutes=20)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.federation_retries.reschedule(
            "v-1", "hedui-linzi", "ask-1", again, 2, "proc-b"
        )
        gone = ("v-9", "hedui-linzi", "ask-9")
        assert not await uow.federation_retries.reschedule(*gone, again, 2, "proc-b")
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        due = await uow.federation_retries.claim_due(again, "proc-c", LEASE, 10)
        await uow.commit()
    assert due == [late, replace(early, next_at=again, attempts=2)]

    async with store.unit_of_work(write=True) as uow:
        assert await uow.federation_retries.finish("v-1", "hedui-linzi", "ask-1", "proc-c")
        assert not await uow.federation_retries.finish("v-1", "hedui-linzi", "ask-1")  # gone
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert not await uow.federation_retries.pending("v-1")
        assert await uow.federation_retries.pending("v-2")


async def test_only_the_holder_of_a_retry_reschedules_or_finishes_it(store: Store) -> None:
    """A process whose lease ended while it was still asking must not clear the lease of
    the process that claimed the retry after it, nor finish the retry under it."""
    await _check(store, "v-1")
    key = ("v-1", "hedui-linzi", "ask-1")
    retry = _retry("v-1", "ask-1", T0)
    async with store.unit_of_work(write=True) as uow:
        await uow.federation_retries.schedule(retry)
        assert not await uow.federation_retries.holds(*key, "proc-a")  # not claimed yet
        assert await uow.federation_retries.claim_due(T0, "proc-a", LEASE, 10) == [retry]
        await uow.commit()
    after_lease = T0 + LEASE + timedelta(seconds=1)
    async with store.unit_of_work(write=True) as uow:
        # proc-a's lease ended without anyone claiming it: it still holds it.
        assert await uow.federation_retries.holds(*key, "proc-a")
        assert await uow.federation_retries.claim_due(after_lease, "proc-b", LEASE, 10) == [retry]
        await uow.commit()
    later = after_lease + timedelta(minutes=1)
    async with store.unit_of_work(write=True) as uow:
        assert not await uow.federation_retries.holds(*key, "proc-a")
        assert await uow.federation_retries.holds(*key, "proc-b")
        assert not await uow.federation_retries.reschedule(*key, later, 5, "proc-a")
        assert not await uow.federation_retries.finish(*key, "proc-a")
        # A resumed run asking again leaves proc-b's claim as it is.
        await uow.federation_retries.schedule(replace(retry, next_at=T0, attempts=0))
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        # Still proc-b's, with its attempts: nobody else finds it due.
        assert await uow.federation_retries.holds(*key, "proc-b")
        assert await uow.federation_retries.claim_due(later, "proc-c", LEASE, 10) == []
        assert await uow.federation_retries.reschedule(*key, later, 2, "proc-b")
        assert not await uow.federation_retries.holds(*key, "proc-b")  # released
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        due = await uow.federation_retries.claim_due(later, "proc-c", LEASE, 10)
        assert due == [replace(retry, next_at=later, attempts=2)]
        assert not await uow.federation_retries.finish(*key, "proc-b")
        assert await uow.federation_retries.finish(*key, "proc-c")
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert not await uow.federation_retries.pending("v-1")


async def test_a_peer_gets_at_most_its_rate_refilled_as_time_passes(store: Store) -> None:
    async def take(peer: str, at: datetime, rate: int = 3) -> bool:
        async with store.unit_of_work(write=True) as uow:
            taken = await uow.federation_rate.take(peer, rate, at)
            await uow.commit()
        return taken

    assert [await take("hedui-linzi", T0) for _ in range(4)] == [True, True, True, False]
    assert await take("hedui-jixi", T0)  # a bucket per peer
    assert not await take("hedui-linzi", T0 + timedelta(seconds=19))
    assert await take("hedui-linzi", T0 + timedelta(seconds=20))  # 3 a minute: one in 20 s
    assert not await take("hedui-linzi", T0 + timedelta(seconds=20))
    # A clock a little behind another process's adds nothing and takes nothing back.
    assert not await take("hedui-linzi", T0 + timedelta(seconds=10))
    # Idle a long time: a full bucket, never more.
    later = T0 + timedelta(hours=1)
    assert [await take("hedui-linzi", later) for _ in range(4)] == [True, True, True, False]
    assert not await take("hedui-new", T0, rate=0)


async def _sql(url: str) -> SqlStore:
    return SqlStore(open_database(url), Sealer("k1", {"k1": bytes(range(32))}))


async def test_postgres_concurrent_claims_take_different_retries(postgres_url: str) -> None:
    a, b = await _sql(postgres_url), await _sql(postgres_url)
    try:
        await _check(a, "v-1")
        async with a.unit_of_work(write=True) as uow:
            for i in range(4):
                await uow.federation_retries.schedule(_retry("v-1", f"ask-{i}", T0))
            await uow.commit()
        async with a.unit_of_work(write=True) as ua, b.unit_of_work(write=True) as ub:
            first = await ua.federation_retries.claim_due(T0, "proc-a", LEASE, 2)
            # proc-a's rows stay locked until it commits: proc-b skips them.
            second = await ub.federation_retries.claim_due(T0, "proc-b", LEASE, 10)
            await ua.commit()
            await ub.commit()
        assert len(first) == 2 and len(second) == 2
        assert {r.ask_request_id for r in first}.isdisjoint(r.ask_request_id for r in second)
    finally:
        await a.aclose()
        await b.aclose()


async def test_postgres_concurrent_takes_never_exceed_the_bucket(postgres_url: str) -> None:
    stores = [await _sql(postgres_url) for _ in range(3)]
    try:

        async def take(s: SqlStore) -> bool:
            return await s.write(lambda uow: uow.federation_rate.take("hedui-linzi", 5, T0))

        results = await asyncio.gather(*(take(stores[i % 3]) for i in range(12)))
        assert sum(results) == 5
    finally:
        for s in stores:
            await s.aclose()


async def test_rewrap_moves_kept_fragments_to_the_new_key(database_url: str) -> None:
    k1, k2 = bytes(range(32)), bytes(range(1, 33))
    old = SqlStore(open_database(database_url), Sealer("k1", {"k1": k1}))
    try:
        await _check(old, "v-1")
        async with old.unit_of_work(write=True) as uow:
            await uow.fragments.add("v-1", _fragment(b'{"payload": "r"}'), T0)
            await uow.commit()
        report = await rewrap(old.db, Sealer("k2", {"k1": k1, "k2": k2}))
        assert report.ok and report.counts["federation_fragments"] == 1
    finally:
        await old.aclose()
    new = SqlStore(open_database(database_url), Sealer("k2", {"k2": k2}))
    try:
        async with new.unit_of_work(write=False) as uow:
            assert await uow.fragments.of("v-1") == [_fragment(b'{"payload": "r"}')]
    finally:
        await new.aclose()
