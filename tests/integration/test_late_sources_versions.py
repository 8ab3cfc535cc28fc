"""Asynchronous sources on both databases: a late answer makes report version two, an
expired lease is picked up, an overdue source is flagged, recent answers are reused (or
not), and a run whose process died is resumed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from audit.schema import AuditEntryRow
from audit.verify import verify_chain
from hedui_sdk import SourceKind
from tests.fakes import AsyncBankFake, FakeAdapter
from tests.helpers import APPLICANT_ID, CALLER, household_draft, make_app, soon
from tests.late_sources_helpers import bank_app, later, payload, tick_at
from verifier.bootstrap import App
from verifier.domain.outcomes import VerificationState
from verifier.service.fanout import SourcePolicy
from verifier.service.poller import Poller
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import key_id
from verifier.storage.uow import SqlStore


async def entries(app: App) -> list[dict[str, Any]]:
    assert isinstance(app.store, SqlStore)
    async with app.store.db.read_sessions() as s:
        rows = (await s.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq))).scalars()
        return [json.loads(r.body) for r in rows]


async def test_a_late_bank_answer_makes_report_version_two(
    database_url: str, keys_dir: Path
) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 1_500_000})
    app = await bank_app(database_url, keys_dir, bank, due_working_days=5)
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert v.record.state is VerificationState.AWAITING_SOURCES and v.record.latest_version == 1
        r1 = await app.service.get_report(CALLER, v.record.id, 1)
        d1 = payload(r1.envelope)
        bank1 = [s for s in d1["sources"] if s["source"] == "bank"]
        assert {s["status"] for s in bank1} == {"PENDING"} and all(s["due_date"] for s in bank1)
        assert d1["completeness"]["status"] == "PARTIAL"

        assert await tick_at(app, 1) == 3  # still pending: rescheduled, no new version
        assert (await app.service.view(v.record.id)).record.latest_version == 1

        bank.ready.set()
        with app.service.hub.subscribe(v.record.id) as events:
            assert await tick_at(app, 2) == 3
            seen = [events.get_nowait() for _ in range(events.qsize())]
        view = await app.service.view(v.record.id)
        assert view.record.state is VerificationState.DONE and view.record.latest_version == 2
        assert any(getattr(e, "version", None) == 2 for e in seen)

        r2 = await app.service.get_report(CALLER, v.record.id, 2)
        pub = app.keys.signing_key().public_key()
        d2 = verify_envelope(r2.envelope, {key_id(pub): pub}).document
        assert d2["version"] == 2 and d2["previous_sha256"] == r1.envelope_sha256
        assert d2["completeness"]["status"] == "COMPLETE"
        assert d2["totals"]["assets_fen"] == 1_500_000
        released = [e for e in await entries(app) if e["action"] == "released"]
        assert [e["details"]["version"] for e in released] == [1, 2]
        assert released[1]["details"]["envelope_sha256"] == r2.envelope_sha256
        assert released[1]["actor"]["system"] == "hedui"
        assert isinstance(app.store, SqlStore)
        async with app.store.db.read_sessions() as s:
            assert (await verify_chain(s)).ok
    finally:
        await app.aclose()


async def test_an_expired_lease_is_picked_up_and_the_old_holder_cannot_answer(
    database_url: str, keys_dir: Path
) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 700})
    app = await bank_app(database_url, keys_dir, bank)
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        # Process A leases the polls and dies holding them.
        now = later()()
        async with app.store.unit_of_work(write=True) as uow:
            leases = await uow.polls.lease("process-A", now, now + timedelta(seconds=60), 10)
            await uow.commit()
        assert len(leases) == 3
        bank.ready.set()
        # Before the lease expires, nobody else may take the work.
        b_early = Poller(app.service, app.store, app.fanout, clock=later(1.0))
        assert await b_early.tick() == 0
        # After it expires, process B answers.
        b = Poller(app.service, app.store, app.fanout, clock=later(2.0))
        assert await b.tick() == 3
        view = await app.service.view(v.record.id)
        assert view.record.latest_version == 2 and view.record.state is VerificationState.DONE
        # A wakes up with a stale answer: refused, no version 3.
        outcome, _ = await app.fanout.poll(0, SourceKind.BANK, leases[0].ticket)
        assert (
            await app.service.release_late(v.record.id, [outcome], poll_owner="process-A") is None
        )
        assert (await app.service.view(v.record.id)).record.latest_version == 2
    finally:
        await app.aclose()


async def test_an_overdue_source_is_flagged_in_a_new_version(
    database_url: str, keys_dir: Path
) -> None:
    bank = AsyncBankFake()
    app = await bank_app(database_url, keys_dir, bank, due_working_days=1)
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        await tick_at(app, 24 * 10)
        view = await app.service.view(v.record.id)
        assert (
            view.record.latest_version == 2
            and view.record.state is VerificationState.AWAITING_SOURCES
        )
        d2 = payload((await app.service.get_report(CALLER, v.record.id, 2)).envelope)
        bank2 = [s for s in d2["sources"] if s["source"] == "bank"]
        assert {s["status"] for s in bank2} == {"PENDING"}
        assert all("overdue" in s["reason"] for s in bank2)
        # Flagged once: the next round polls again but issues no further version.
        assert await tick_at(app, 24 * 11) == 3
        assert (await app.service.view(v.record.id)).record.latest_version == 2
    finally:
        await app.aclose()


async def test_a_recent_bank_answer_is_reused_with_its_original_date(
    database_url: str, keys_dir: Path
) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 1_000})
    app = await bank_app(database_url, keys_dir, bank, reuse_days=30)
    try:
        first = await app.service.create(CALLER, household_draft("a"), wait=True, wait_until=soon())
        bank.ready.set()
        await tick_at(app, 1)
        calls_before = bank.calls
        second = await app.service.create(
            CALLER, household_draft("b", case_id="CASE-2"), wait=True, wait_until=soon()
        )
        assert bank.calls == calls_before  # not asked again
        assert second.record.state is VerificationState.DONE
        doc = payload((await app.service.get_report(CALLER, second.record.id, 0)).envelope)
        bank_rows = [s for s in doc["sources"] if s["source"] == "bank"]
        assert all(s["reused"] for s in bank_rows)
        assert {s["status"] for s in bank_rows} == {"FOUND", "NOT_FOUND"}
        assert doc["totals"]["assets_fen"] == 1_000
        assert first.record.id != second.record.id
    finally:
        await app.aclose()


async def test_reuse_can_be_switched_off(database_url: str, keys_dir: Path) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 1_000})
    app = await bank_app(database_url, keys_dir, bank, reuse_days=0)
    try:
        await app.service.create(CALLER, household_draft("a"), wait=True, wait_until=soon())
        bank.ready.set()
        await tick_at(app, 1)
        before = bank.calls
        await app.service.create(
            CALLER, household_draft("b", case_id="C2"), wait=True, wait_until=soon()
        )
        assert bank.calls == before + 3
    finally:
        await app.aclose()


async def test_an_answer_about_another_window_is_not_reused(
    database_url: str, keys_dir: Path
) -> None:
    tax = FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100_000})
    app = await make_app(
        database_url,
        keys_dir,
        {SourceKind.TAX: tax},
        policies={SourceKind.TAX: SourcePolicy(reuse_days=30)},
    )
    first_half = {"window_start": "2024-01-01", "window_end": "2024-06-30"}
    try:
        await app.service.create(
            CALLER, household_draft("a", **first_half), wait=True, wait_until=soon()
        )
        asked = tax.calls
        # The same window again: reused.
        await app.service.create(
            CALLER, household_draft("b", case_id="C2", **first_half), wait=True, wait_until=soon()
        )
        assert tax.calls == asked
        # Another period: income there is another question, asked of the source.
        later_half = {"window_start": "2025-01-01", "window_end": "2025-06-30"}
        v = await app.service.create(
            CALLER, household_draft("c", case_id="C3", **later_half), wait=True, wait_until=soon()
        )
        assert tax.calls == asked + len(household_draft().members)
        doc = payload((await app.service.get_report(CALLER, v.record.id, 0)).envelope)
        assert not any(s["reused"] for s in doc["sources"])
    finally:
        await app.aclose()


async def test_a_run_whose_process_died_is_resumed(database_url: str, keys_dir: Path) -> None:
    hanging = FakeAdapter(SourceKind.TAX, hang=True)
    first = await make_app(database_url, keys_dir, {SourceKind.TAX: hanging})
    v = await first.service.create(CALLER, household_draft(), wait=False)
    await hanging.started.wait()
    await first.aclose()  # the process goes away mid-run: no report, state RUNNING

    answering = FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 5_000})
    second = await make_app(database_url, keys_dir, {SourceKind.TAX: answering})
    try:
        assert (await second.service.view(v.record.id)).record.state is VerificationState.RUNNING
        poller = Poller(second.service, second.store, second.fanout, clock=later())
        assert await poller.tick() == 1
        await poller.drain()
        view = await second.service.view(v.record.id)
        assert view.record.state is VerificationState.DONE and view.record.latest_version == 1
        intents = [e for e in await entries(second) if e["action"] == "access_intent"]
        assert [e["reason"] for e in intents] == ["", "RESUMED"]
    finally:
        await second.aclose()
