"""Asynchronous sources, report versions, leases, reuse and resumed runs, on both databases."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select

from audit.schema import AuditEntryRow
from audit.verify import verify_chain
from hedui_sdk import PermanentSourceError, ResultStatus, SourceKind, SourceQuery, SourceResult
from tests.fakes import AS_OF, AsyncBankFake, FakeAdapter
from tests.helpers import APPLICANT_ID, CALLER, household_draft, make_app, soon
from verifier.bootstrap import App
from verifier.domain.outcomes import VerificationState
from verifier.service.events import Event, ReportEvent, StateEvent
from verifier.service.fanout import SourcePolicy
from verifier.service.poller import Poller
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import key_id
from verifier.storage.uow import SqlStore


def later(hours: float = 1.0) -> Callable[[], datetime]:
    """A clock ahead of real time, so scheduled polls and expired leases are due now."""
    return lambda: datetime.now(UTC) + timedelta(hours=hours)


async def tick_at(app: App, hours: float) -> int:
    """One poller round as if ``hours`` had passed."""
    return await Poller(app.service, app.store, app.fanout, clock=later(hours)).tick()


def payload(envelope: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    return doc


async def entries(app: App) -> list[dict[str, Any]]:
    assert isinstance(app.store, SqlStore)
    async with app.store.db.read_sessions() as s:
        rows = (await s.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq))).scalars()
        return [json.loads(r.body) for r in rows]


async def bank_app(database_url: str, keys_dir: Path, bank: AsyncBankFake, **policy: Any) -> App:
    return await make_app(
        database_url,
        keys_dir,
        {
            SourceKind.BANK: bank,
            SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100}),
        },
        policies={SourceKind.BANK: SourcePolicy(**policy)},
    )


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


class FarHintBank(AsyncBankFake):
    """A bank whose every answer says: ask again in ``hint`` seconds."""

    def __init__(self, hint: float) -> None:
        super().__init__()
        self.hint = hint

    async def query(self, q: SourceQuery) -> SourceResult:
        await super().query(q)
        return SourceResult.pending(f"T{self.calls}", retry_after=self.hint)

    async def poll(self, ticket: str) -> SourceResult:
        self.polls += 1
        return SourceResult.pending(ticket, retry_after=self.hint)


async def test_an_absurd_retry_hint_still_gives_a_report_and_a_daily_poll(
    database_url: str, keys_dir: Path
) -> None:
    bank = FarHintBank(1e12)  # some 31,700 years
    app = await bank_app(database_url, keys_dir, bank, due_working_days=30)
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert v.record.latest_version == 1
        assert await tick_at(app, 23) == 0
        members = len(household_draft().members)
        assert await tick_at(app, 25) == members  # asked again within a day (MAX_POLL_INTERVAL)
        assert bank.polls == members
        assert await tick_at(app, 26) == 0  # and rescheduled, not left due
    finally:
        await app.aclose()


async def test_an_overdue_source_is_flagged_even_when_its_next_poll_is_far_off(
    database_url: str, keys_dir: Path
) -> None:
    bank = FarHintBank(7 * 86400.0)
    app = await bank_app(database_url, keys_dir, bank, due_working_days=1)
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        # Five days on (a weekend at most in between): past the due date, the hint not yet.
        await tick_at(app, 24 * 5)
        view = await app.service.view(v.record.id)
        assert view.record.latest_version == 2
        assert all(
            "overdue" in p.reason for p in view.progress if p.source == SourceKind.BANK.value
        )
    finally:
        await app.aclose()


class GarbageTax(FakeAdapter):
    async def query(self, q: SourceQuery) -> SourceResult:
        self.calls += 1
        return SourceResult(status=ResultStatus.FOUND, as_of=AS_OF, records=None)  # type: ignore[arg-type]


async def test_one_garbage_answer_costs_one_source_not_the_report(
    database_url: str, keys_dir: Path
) -> None:
    bank = FakeAdapter(SourceKind.BANK, asset_fen={APPLICANT_ID: 700})
    app = await make_app(
        database_url, keys_dir, {SourceKind.TAX: GarbageTax(SourceKind.TAX), SourceKind.BANK: bank}
    )
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert v.record.latest_version == 1
        statuses = {(p.member_index, p.source): p.status for p in v.progress}
        assert statuses[(0, "tax")] == "FAILED"
        assert statuses[(0, "bank")] == "FOUND"
    finally:
        await app.aclose()


async def test_a_hanging_source_under_the_default_policy_answers_inside_the_callers_deadline(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(
        database_url, keys_dir, {SourceKind.TAX: FakeAdapter(SourceKind.TAX, hang=True)}
    )
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon(2))
        assert v.record.latest_version == 1
        assert {p.status for p in v.progress} == {"FAILED"}
    finally:
        await app.aclose()


class HangingTax(FakeAdapter):
    """Hangs every query; ``asked`` is set once ``expected`` queries have arrived."""

    def __init__(self, expected: int) -> None:
        super().__init__(SourceKind.TAX, hang=True)
        self.expected = expected
        self.asked = asyncio.Event()

    async def query(self, q: SourceQuery) -> SourceResult:
        if self.calls + 1 >= self.expected:
            self.asked.set()
        return await super().query(q)


async def test_a_resumed_run_stays_tracked_when_the_run_it_replaced_ends(
    database_url: str, keys_dir: Path
) -> None:
    members = len(household_draft().members)
    tax = HangingTax(expected=2 * members)
    app = await make_app(database_url, keys_dir, {SourceKind.TAX: tax})
    try:
        v = await app.service.create(CALLER, household_draft(), wait=False)
        await tax.started.wait()
        assert app.service.running() == 1
        overrunning = asyncio.all_tasks()
        # Its lease is taken as expired and the run resumed here, beside the first one.
        resumed = asyncio.create_task(app.service.resume(v.record.id))
        await tax.asked.wait()  # the resumed run is asking the source too
        first = next(t for t in overrunning if t.get_name() == f"verification-{v.record.id}")
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        # The resumed run is still known: shutdown cancels it, a replay can wait on it.
        assert app.service.running() == 1
        await app.service.aclose()
        await asyncio.wait([resumed])
    finally:
        await app.aclose()


class ChattyBank(AsyncBankFake):
    """A bank whose poll failures name the account holder (a third-party adapter's habit)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, str] = {}

    async def query(self, q: SourceQuery) -> SourceResult:
        result = await super().query(q)
        assert result.ticket is not None
        self.names[result.ticket] = q.subject.name
        return result

    async def poll(self, ticket: str) -> SourceResult:
        self.polls += 1
        raise PermanentSourceError(f"account of {self.names[ticket]} is frozen")


async def test_a_poll_failure_naming_the_member_is_redacted_in_the_report(
    database_url: str, keys_dir: Path
) -> None:
    app = await bank_app(database_url, keys_dir, ChattyBank())
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        await tick_at(app, 1)
        doc = payload((await app.service.get_report(CALLER, v.record.id, 2)).envelope)
        reasons = [s["reason"] for s in doc["sources"] if s["source"] == "bank"]
        assert reasons and all("[REDACTED]" in r for r in reasons)
        text = json.dumps(doc, ensure_ascii=False)
        assert not any(m.name in text for m in household_draft().members)
    finally:
        await app.aclose()


async def test_one_failed_late_release_does_not_drop_the_others(
    database_url: str, keys_dir: Path
) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 1_000})
    app = await bank_app(database_url, keys_dir, bank)
    try:
        a = await app.service.create(CALLER, household_draft("a"), wait=True, wait_until=soon())
        b = await app.service.create(
            CALLER, household_draft("b", case_id="C2"), wait=True, wait_until=soon()
        )
        bank.ready.set()
        release_late = app.service.release_late

        async def failing_for_a(vid: str, *args: Any, **kw: Any) -> Any:
            if vid == a.record.id:
                raise RuntimeError("the database refused this one")
            return await release_late(vid, *args, **kw)

        app.service.release_late = failing_for_a  # type: ignore[method-assign]
        await tick_at(app, 1)
        assert (await app.service.view(b.record.id)).record.latest_version == 2
        assert (await app.service.view(a.record.id)).record.latest_version == 1
        # a's answers are asked again once its leases expire, and released then.
        app.service.release_late = release_late  # type: ignore[method-assign]
        await tick_at(app, 2)
        assert (await app.service.view(a.record.id)).record.latest_version == 2
    finally:
        await app.aclose()


async def test_a_watcher_joining_after_a_version_is_told_the_latest_at_once(
    database_url: str, keys_dir: Path
) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 1_000})
    app = await bank_app(database_url, keys_dir, bank, due_working_days=1)
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        await tick_at(app, 24 * 10)  # overdue: version 2, still awaiting the bank
        view = await app.service.view(v.record.id)
        assert (view.record.latest_version, view.record.state) == (
            2,
            VerificationState.AWAITING_SOURCES,
        )
        joined: list[Event] = []
        stream = cast(AsyncGenerator[Event, None], app.service.watch(CALLER, v.record.id))
        async for event in stream:
            joined.append(event)
            if isinstance(event, StateEvent):
                break
        await stream.aclose()
        reports = [e for e in joined if isinstance(e, ReportEvent)]
        assert [r.version for r in reports] == [2]
        stored = await app.service.get_report(CALLER, v.record.id, 2)
        assert reports[0].envelope_sha256 == stored.envelope_sha256
    finally:
        await app.aclose()
