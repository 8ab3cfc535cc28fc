"""The retention repository keeps one contract on SQLite, PostgreSQL and the in-memory
fake: ``held`` pages done checks not yet purged of a kind, oldest first; a purge empties
the sealed data, keeps the rows and counts what held any, so a second one counts none;
old cached answers are deleted up to a limit, and so are webhook events every subscriber
acknowledged, with their history; the job lease has one holder at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from hedui_sdk import AssetCategory, AssetRecord, Provenance, SourceKind
from tests.helpers import household_draft
from tests.stores import STORE_KINDS, running_record, store_under_test
from verifier.domain.household import validate_request
from verifier.domain.outcomes import Completeness, SourceOutcome, SourceStatus, VerificationState
from verifier.domain.ports import Attempt, CachedResult, Store, StoredReport, Subscription
from verifier.domain.ports.retention import DoneCheck, PurgeKind
from verifier.domain.webhooks import DeliveryState, EventType, webhook_test

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    async with store_under_test(request.param, database_url, T0) as s:
        yield s


def _outcomes() -> list[SourceOutcome]:
    prov = Provenance("bank", "fake-bank", "1", "R1", T0)
    found = (AssetRecord(AssetCategory.DEPOSIT, "savings", 12_300, prov),)
    return [
        SourceOutcome(0, SourceKind.BANK, SourceStatus.FOUND, "fake-bank", "1", records=found),
        SourceOutcome(1, SourceKind.TAX, SourceStatus.NOT_FOUND, "fake-tax", "1"),
    ]


def _report(vid: str, version: int) -> StoredReport:
    return StoredReport(
        vid, version, f"r-{vid}-{version}", b'{"payload": ""}', f"{version}" * 64, "",
        "kid", Completeness.COMPLETE, version, "{}", T0,
    )  # fmt: skip


async def _check(store: Store, vid: str, done: datetime | None) -> None:
    """A check with two outcomes and two report versions, done at ``done`` (or running)."""
    request = validate_request(household_draft(f"req-{vid}"), today=T0.date())
    async with store.unit_of_work(write=True) as uow:
        await uow.verifications.add(
            running_record(vid, f"req-{vid}", T0), request, "SQ-1", run_lease=("o", T0)
        )
        await uow.outcomes.store(vid, _outcomes(), T0)
        await uow.reports.add(_report(vid, 1))
        await uow.reports.add(_report(vid, 2))
        if done is not None:
            await uow.verifications.set_state(
                vid, VerificationState.DONE, Completeness.COMPLETE, 2, done
            )
        await uow.commit()


async def test_held_pages_done_checks_and_a_purge_counts_once(store: Store) -> None:
    for vid, done in [("v-b", T0), ("v-a", T0), ("v-c", T0 + timedelta(days=1))]:
        await _check(store, vid, done)
    await _check(store, "v-run", None)
    cut = T0 + timedelta(days=2)
    async with store.unit_of_work(write=False) as uow:
        first = await uow.retention.held(PurgeKind.REPORTS, cut, None, 2)
        rest = await uow.retention.held(
            PurgeKind.REPORTS, cut, (first[-1].done_at, first[-1].verification_id), 2
        )
        before_c = await uow.retention.held(
            PurgeKind.SOURCE_RECORDS, T0 + timedelta(days=1), None, 9
        )
    assert first == [
        DoneCheck("v-a", "CASE-1", "370322", T0),
        DoneCheck("v-b", "CASE-1", "370322", T0),
    ]
    assert [c.verification_id for c in rest] == ["v-c"]
    assert [c.verification_id for c in before_c] == ["v-a", "v-b"]

    async with store.unit_of_work(write=True) as uow:
        assert await uow.retention.purge_reports("v-a", cut) == 2
        assert await uow.retention.purge_records("v-b", cut) == 2
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        assert await uow.retention.purge_reports("v-a", cut) == 0
        assert await uow.retention.purge_records("v-b", cut) == 0
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        reports = await uow.retention.held(PurgeKind.REPORTS, cut, None, 9)
        records = await uow.retention.held(PurgeKind.SOURCE_RECORDS, cut, None, 9)
        purged = await uow.reports.get("v-a", 1)
        with pytest.raises(KeyError):
            await uow.verifications.load_request("v-a")
        emptied = await uow.outcomes.load("v-b")
        kept = await uow.outcomes.load("v-a")
        summaries = await uow.outcomes.summaries("v-b")
    assert [c.verification_id for c in reports] == ["v-b", "v-c"]
    assert [c.verification_id for c in records] == ["v-a", "v-c"]
    assert purged is not None and purged.purged and purged.envelope == b""
    assert (purged.envelope_sha256, purged.release_seq) == ("1" * 64, 1)
    assert [o.records for o in emptied] == [(), ()]
    assert [o.status for o in emptied] == [SourceStatus.FOUND, SourceStatus.NOT_FOUND]
    assert [s.status for s in summaries] == ["FOUND", "NOT_FOUND"]
    assert kept == _outcomes()


async def test_old_cached_answers_are_deleted_up_to_the_limit(store: Store) -> None:
    def cached(ref: str, fetched: datetime) -> CachedResult:
        return CachedResult(ref, "bank", "FOUND", "fake-bank", "1", T0, fetched, ())

    rows = [cached(c * 64, T0 + timedelta(days=i)) for i, c in enumerate("abcd")]
    async with store.unit_of_work(write=True) as uow:
        await uow.cache.put(rows)
        await uow.commit()
    cut = T0 + timedelta(days=3)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.retention.cache_held(cut) == 3
        assert await uow.retention.purge_cache(cut, 2) == 2
        assert await uow.retention.cache_held(cut) == 1
        assert await uow.retention.purge_cache(cut, 2) == 1
        assert await uow.retention.purge_cache(cut, 2) == 0
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        left = await uow.cache.get([(r.subject_ref, "bank") for r in rows], T0 - timedelta(days=1))
    assert sorted(k[0][0] for k in left) == ["d"]


async def test_the_job_lease_has_one_holder_at_a_time(store: Store) -> None:
    until = T0 + timedelta(minutes=10)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.retention.lease("retention", "a", T0, until)
        assert not await uow.retention.lease("retention", "b", T0, until)
        assert await uow.retention.lease("retention", "a", T0, until + timedelta(minutes=5))
        assert not await uow.retention.lease("retention", "b", until, until)
        later = until + timedelta(minutes=6)
        assert await uow.retention.lease("retention", "b", later, later + timedelta(minutes=10))
        assert not await uow.retention.lease("no-such-job", "a", T0, until)
        await uow.commit()


async def test_acknowledged_webhook_events_go_with_their_deliveries_and_attempts(
    store: Store,
) -> None:
    done, waiting, unsent = (webhook_test(subscriber="a", at=T0, nonce=n) for n in "123")
    subs = [Subscription("a", frozenset({EventType.TEST}))]
    async with store.unit_of_work(write=True) as uow:
        await uow.outbox.add(done)
        await uow.outbox.add(waiting)
        assert await uow.outbox.dispatch(subs, T0, 10) == 2
        await uow.outbox.add(unsent)
        leases = await uow.deliveries.lease("w", T0, T0 + timedelta(minutes=1), ["a"], 10)
        mine = next(x for x in leases if x.event_id == done.id)
        attempt = Attempt(T0, 204, "acknowledged", 12)
        assert await uow.deliveries.record(
            mine, "w", attempt, state=DeliveryState.DELIVERED, next_attempt_at=None
        )
        await uow.commit()
    # The outbox stamps its rows with the wall clock.
    cut = datetime.now(UTC) + timedelta(days=1)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.retention.webhooks_held(datetime(2000, 1, 1, tzinfo=UTC)) == 0
        assert await uow.retention.webhooks_held(cut) == 1
        assert await uow.retention.purge_webhooks(cut, 10) == 1
        assert await uow.retention.purge_webhooks(cut, 10) == 0
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.outbox.get(done.id) is None
        assert await uow.outbox.get(waiting.id) == waiting
        assert await uow.outbox.get(unsent.id) == unsent
        assert await uow.deliveries.attempts(event_id=done.id) == []
        assert await uow.retention.webhooks_held(cut) == 0
