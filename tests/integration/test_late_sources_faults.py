"""Asynchronous sources that misbehave, on both databases: absurd retry hints, a far-off
next poll, garbage and hanging answers, failures naming a member (redacted), a failed late
release among others, and resumed runs and watchers that join late.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

from hedui_sdk import PermanentSourceError, ResultStatus, SourceKind, SourceQuery, SourceResult
from tests.fakes import AS_OF, AsyncBankFake, FakeAdapter
from tests.helpers import APPLICANT_ID, CALLER, household_draft, make_app, soon
from tests.late_sources_helpers import bank_app, payload, tick_at
from verifier.domain.outcomes import VerificationState
from verifier.service.events import Event, ReportEvent, StateEvent


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
