"""Retention on both databases: a check's personal data is purged once its region's
periods ran out (370322: source records 12 months, reports 60 months, cached answers 30
days, all example values), and no sooner. Afterwards no table holds any of it (a dump of
every column finds none of the household's ID numbers or names, and every sealed column
is empty), while the audit log, the report's hash, its release entry and its receipt
still verify against the printout kept before. A second run purges nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from audit.export import verify_receipt
from hedui_sdk import SourceKind
from tests.app_sql import audit_bodies, sql_db, sql_scalar
from tests.fakes import FakeAdapter
from tests.helpers import (
    APPLICANT_ID,
    CALLER,
    CHILD_ID,
    SPOUSE_ID,
    household_draft,
    make_app,
    soon,
)
from tests.pii import PiiScanner, assert_clean
from verifier.bootstrap import App, audit_verifier_keys, verify_audit_log
from verifier.domain.errors import ReportPurged
from verifier.domain.outcomes import VerificationState
from verifier.domain.webhooks import DeliveryState
from verifier.service.fanout import SourcePolicy
from verifier.service.retention import DueCount, RetentionService
from verifier.storage.models_webhooks import AttemptRow, DeliveryRow, OutboxEventRow

NAMES = ("测试甲", "测试乙", "测试丙")
IDS = (APPLICANT_ID, SPOUSE_ID, CHILD_ID)


@pytest.fixture
async def app(database_url: str, keys_dir: Path) -> AsyncIterator[App]:
    adapters = {
        SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 98_000}),
        SourceKind.REAL_ESTATE: FakeAdapter(SourceKind.REAL_ESTATE),
    }
    # Answers reused for a week are cached.
    reuse = {k: SourcePolicy(reuse_days=7) for k in adapters}
    a = await make_app(database_url, keys_dir, adapters, reuse)
    yield a
    await a.aclose()


async def _sealed_values(app: App) -> dict[str, int]:
    """Non-empty sealed values per table.column, over every table."""
    db = sql_db(app)
    async with db.read_engine.connect() as conn:
        tables = await conn.run_sync(
            lambda c: {
                t: [col["name"] for col in inspect(c).get_columns(t)]
                for t in inspect(c).get_table_names()
            }
        )
        out: dict[str, int] = {}
        for table, cols in sorted(tables.items()):
            for col in cols:
                if "sealed" in col:
                    n = (
                        await conn.execute(
                            text(f'SELECT count(*) FROM "{table}" WHERE "{col}" IS NOT NULL')
                        )
                    ).scalar_one()
                    if n:
                        out[f"{table}.{col}"] = int(n)
        return out


async def test_a_check_is_purged_by_kind_when_its_periods_run_out(app: App) -> None:
    view = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    vid = view.record.id
    assert view.record.state is VerificationState.DONE
    printout = await app.service.get_report(CALLER, vid, 0)
    assert await sql_scalar(app, "SELECT count(*) FROM result_cache") > 0
    before = await _sealed_values(app)
    assert before.keys() >= {
        "reports.envelope_sealed",
        "reports.summary_sealed",
        "verifications.request_sealed",
        "result_cache.records_sealed",
    }
    # A done check's records live on in its sealed report only: its outcome rows went
    # when its last version was signed.
    assert await sql_scalar(app, "SELECT count(*) FROM source_outcomes") == 0
    done = datetime.now(UTC)

    # Within every period: nothing is due, nothing is touched.
    early = RetentionService(app.store, clock=lambda: done + timedelta(days=20))
    assert [c for c in await early.status() if c.due] == []
    assert (await early.run()).total == 0
    assert await _sealed_values(app) == before

    # Past the cache's 30 days and the source records' 12 months, within the reports' 60.
    later = done + timedelta(days=400)
    mid = RetentionService(app.store, clock=lambda: later)
    assert await mid.status() == [
        DueCount("source_records", "370322", 1),
        DueCount("cache", "", before["result_cache.records_sealed"]),
        DueCount("webhooks", "", 0),
        DueCount("federation_answers", "", 0),
    ]
    result = await mid.run()
    assert result.checks == {"source_records": 1} and result.outcomes == 0
    assert result.cache_rows == before["result_cache.records_sealed"]
    left = await _sealed_values(app)
    assert left == {
        "reports.envelope_sealed": before["reports.envelope_sealed"],
        "reports.summary_sealed": before["reports.summary_sealed"],
        "verifications.request_sealed": 1,
    }
    # The report is still read whole.
    assert (await app.service.get_report(CALLER, vid, 0)).envelope == printout.envelope
    # Again, by another process once the first one's lease ran out: nothing more.
    again = await RetentionService(app.store, clock=lambda: later + timedelta(hours=1)).run()
    assert again.leased and again.total == 0

    # Past the reports' 60 months.
    last = RetentionService(app.store, clock=lambda: done + timedelta(days=61 * 31))
    assert await last.status() == [
        DueCount("reports", "370322", 1),
        DueCount("cache", "", 0),
        DueCount("webhooks", "", 0),
        DueCount("federation_answers", "", 0),
    ]
    result = await last.run()
    assert result.checks == {"reports": 1} and result.report_versions == printout.version
    assert await _sealed_values(app) == {}
    # The summary went too: which source found what for whom is personal data.
    async with app.store.unit_of_work(write=False) as uow:
        assert await uow.outcomes.summaries(vid) == []
    assert (await last.run()).total == 0

    # (a) No table holds the household's ID numbers or names, in any column.
    assert_clean(await PiiScanner(IDS, NAMES).database(sql_db(app)))

    # (b) The audit log verifies, with one purged entry per check and kind, no personal data.
    report = await verify_audit_log(app.config, verifier_keys=audit_verifier_keys(app.config))
    assert report.ok, report.problem
    purged = await audit_bodies(app, "purged")
    assert [(e["details"]["kind"], e.get("verification_id", "")) for e in purged] == [
        ("source_records", vid),
        ("cache", ""),
        ("reports", vid),
    ]
    assert_clean(await PiiScanner(IDS, NAMES).audit(sql_db(app)))

    # (c) The hash and release entry remain: the printout's receipt verifies.
    with pytest.raises(ReportPurged):
        await app.service.get_report(CALLER, vid, 0)
    assert app.auditing is not None
    receipt = await app.auditing.receipt(
        CALLER.__class__(CALLER.system, "auditor-1", "auditor", CALLER.regions), vid
    )
    verified = verify_receipt(receipt, app.auditing.verifier_key, printout.envelope)
    assert verified.seq == printout.release_seq
    sha = await sql_scalar(
        app, f"SELECT envelope_sha256 FROM reports WHERE verification_id = '{vid}'"
    )
    assert sha == printout.envelope_sha256


async def test_one_process_purges_at_a_time(app: App) -> None:
    now = datetime.now(UTC)
    first = RetentionService(app.store, clock=lambda: now, owner="a")
    second = RetentionService(app.store, clock=lambda: now, owner="b")
    assert (await first.run()).leased
    assert not (await second.run()).leased
    # The holder renews; the other takes it once the lease has run out.
    assert (await first.run()).leased
    after = RetentionService(app.store, clock=lambda: now + timedelta(hours=1), owner="b")
    assert (await after.run()).leased


def _event(event_id: str, at: datetime) -> OutboxEventRow:
    return OutboxEventRow(
        id=event_id, type="report.issued", occurred_at=at, payload="{}", created_at=at,
        dispatched_at=at,
    )  # fmt: skip


def _delivery(event_id: str, subscriber: str, state: DeliveryState, at: datetime) -> DeliveryRow:
    return DeliveryRow(
        event_id=event_id, subscriber=subscriber, state=state.value, attempts=1,
        created_at=at, delivered_at=at if state is DeliveryState.DELIVERED else None,
    )  # fmt: skip


async def test_acknowledged_webhook_events_are_purged_with_their_history(app: App) -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    async with sql_db(app).write_sessions() as s:
        s.add_all([_event("ev-old-done", t0), _event("ev-old-waiting", t0)])
        s.add_all([_event("ev-new-done", t0 + timedelta(days=300))])
        await s.flush()
        s.add_all(
            [
                _delivery("ev-old-done", "a", DeliveryState.DELIVERED, t0),
                _delivery("ev-old-done", "b", DeliveryState.DELIVERED, t0),
                _delivery("ev-old-waiting", "a", DeliveryState.DELIVERED, t0),
                _delivery("ev-old-waiting", "b", DeliveryState.FAILED, t0),
                _delivery("ev-new-done", "a", DeliveryState.DELIVERED, t0 + timedelta(days=300)),
                AttemptRow(
                    event_id="ev-old-done",
                    subscriber="a",
                    number=1,
                    at=t0,
                    status_code=204,
                    outcome="delivered",
                    latency_ms=12,
                ),
            ]
        )
        await s.commit()
    # 12 months after the old ones, within them of the new one.
    svc = RetentionService(app.store, clock=lambda: t0 + timedelta(days=370))
    assert DueCount("webhooks", "", 1) in await svc.status()
    result = await svc.run()
    assert result.webhook_events == 1
    assert await sql_scalar(app, "SELECT count(*) FROM webhook_attempts") == 0
    left = await sql_scalar(app, "SELECT count(*) FROM webhook_outbox WHERE id LIKE 'ev-old-%'")
    assert left == 1
    assert await sql_scalar(app, "SELECT count(*) FROM webhook_deliveries") == 3
    assert [e["details"]["webhook_events"] for e in await audit_bodies(app, "purged")] == [1]
    assert (await svc.run()).webhook_events == 0
