"""RetentionService on the in-memory store: a done check's personal data goes once its
region's period ran out (370322: source records 12 months, reports 60 months, cached
answers 30 days, all example values) and not sooner; each purge is one ``purged`` audit
entry of kinds and counts; a second run purges nothing; one process runs at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hedui_sdk import AssetCategory, AssetRecord, Provenance, SourceKind
from tests.fakes import InMemoryStore
from tests.helpers import household_draft
from tests.stores import running_record
from verifier.domain.household import validate_request
from verifier.domain.outcomes import Completeness, SourceOutcome, SourceStatus, VerificationState
from verifier.domain.ports import CachedResult, StoredReport
from verifier.domain.vocabulary import AuditAction
from verifier.service.retention import RetentionService

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
OLD, NEW = "v-old", "v-new"
NEW_DONE = T0 + timedelta(days=200)


def _deposit(fen: int) -> AssetRecord:
    prov = Provenance("bank", "fake-bank", "1", "R1", T0)
    return AssetRecord(AssetCategory.DEPOSIT, "savings", fen, prov)


def _report(vid: str, done: datetime) -> StoredReport:
    return StoredReport(
        vid, 1, f"r-{vid}", b'{"payload": ""}', "a" * 64, "", "kid",
        Completeness.COMPLETE, 1, "{}", done,
    )  # fmt: skip


async def _done_check(store: InMemoryStore, vid: str, done: datetime) -> None:
    request = validate_request(household_draft(f"req-{vid}"), today=done.date())
    outcomes = [
        SourceOutcome(0, SourceKind.BANK, SourceStatus.FOUND, "fake-bank", "1",
                      records=(_deposit(12_300),)),
        SourceOutcome(1, SourceKind.TAX, SourceStatus.NOT_FOUND, "fake-tax", "1"),
    ]  # fmt: skip
    async with store.unit_of_work(write=True) as uow:
        await uow.verifications.add(
            running_record(vid, f"req-{vid}", done), request, "SQ-1", run_lease=("o", done)
        )
        await uow.outcomes.store(vid, outcomes, done)
        await uow.reports.add(_report(vid, done))
        await uow.verifications.set_state(
            vid, VerificationState.DONE, Completeness.COMPLETE, 1, done
        )
        await uow.commit()


@pytest.fixture
async def store() -> InMemoryStore:
    s = InMemoryStore(clock=lambda: T0)
    await _done_check(s, OLD, T0)
    await _done_check(s, NEW, NEW_DONE)
    return s


def _purged(store: InMemoryStore) -> list[dict[str, object]]:
    return [
        dict(row.draft.details)
        for row in store.tables.audit
        if row.draft.action == AuditAction.PURGED.value
    ]


async def test_source_records_go_after_12_months_and_a_second_run_is_a_no_op(
    store: InMemoryStore,
) -> None:
    early = await RetentionService(store, clock=lambda: T0 + timedelta(days=300)).run()
    assert early.total == 0
    assert _purged(store) == []

    later = T0 + timedelta(days=370)
    result = await RetentionService(store, clock=lambda: later).run()
    assert result.checks == {"source_records": 1}
    assert result.outcomes == 2
    assert result.report_versions == 0
    async with store.unit_of_work(write=False) as uow:
        assert [o.records for o in await uow.outcomes.load(OLD)] == [(), ()]
        assert [len(o.records) for o in await uow.outcomes.load(NEW)] == [1, 0]
        # Only the kind whose period ran out: the old check's report and request remain.
        old_report = await uow.reports.get(OLD, 1)
        assert old_report is not None and not old_report.purged
        await uow.verifications.load_request(OLD)
        summaries = await uow.outcomes.summaries(OLD)
    assert [s.status for s in summaries] == ["FOUND", "NOT_FOUND"]
    assert _purged(store) == [
        {"kind": "source_records", "region": "370322", "done_on": "2026-12-01", "outcomes": 2}
    ]
    row = store.tables.audit[-1].draft
    assert (row.case_id, row.verification_id) == ("CASE-1", OLD)

    again = await RetentionService(store, clock=lambda: later + timedelta(hours=1)).run()
    assert again.total == 0
    assert len(_purged(store)) == 1


async def test_reports_and_the_request_go_after_60_months(store: InMemoryStore) -> None:
    at = T0 + timedelta(days=61 * 31)
    result = await RetentionService(store, clock=lambda: at).run()
    # The new check's records are past 12 months too; its report is within 60.
    assert result.checks == {"reports": 1, "source_records": 2}
    assert result.report_versions == 1
    async with store.unit_of_work(write=False) as uow:
        old = await uow.reports.get(OLD, 1)
        assert old is not None and old.purged and old.envelope == b""
        assert old.envelope_sha256 == "a" * 64 and old.release_seq == 1
        with pytest.raises(KeyError):
            await uow.verifications.load_request(OLD)
        assert await uow.reports.get(NEW, 1) == _report(NEW, NEW_DONE)
        await uow.verifications.load_request(NEW)
    reports = [d for d in _purged(store) if d["kind"] == "reports"]
    assert reports == [
        {"kind": "reports", "region": "370322", "done_on": "2026-12-01", "report_versions": 1}
    ]
    again = await RetentionService(store, clock=lambda: at + timedelta(days=1)).run()
    assert again.total == 0


async def test_old_cached_answers_are_deleted_and_fresh_ones_kept(store: InMemoryStore) -> None:
    def cached(ref: str, fetched: datetime) -> CachedResult:
        return CachedResult(ref, "bank", "FOUND", "fake-bank", "1", T0, fetched, ())

    at = T0 + timedelta(days=100)
    async with store.unit_of_work(write=True) as uow:
        await uow.cache.put([cached("a" * 64, T0), cached("b" * 64, at - timedelta(days=1))])
        await uow.commit()
    result = await RetentionService(store, clock=lambda: at).run()
    assert result.cache_rows == 1
    assert set(store.tables.cache) == {("b" * 64, "bank")}
    assert (await RetentionService(store, clock=lambda: at).run()).cache_rows == 0


async def test_one_process_purges_at_a_time(store: InMemoryStore) -> None:
    at = T0 + timedelta(days=370)
    first = RetentionService(store, clock=lambda: at, owner="a", lease_seconds=600)
    second = RetentionService(store, clock=lambda: at, owner="b")
    assert (await first.run()).leased
    assert not (await second.run()).leased
    later = RetentionService(store, clock=lambda: at + timedelta(minutes=11), owner="b")
    assert (await later.run()).leased
