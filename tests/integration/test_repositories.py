"""The seven repositories of the unit of work keep one contract on SQLite, PostgreSQL and
the in-memory fake the unit tests use: what is stored comes back, a duplicate is a
Conflict, an uncommitted unit leaves nothing, leases are held and lost as the poller
expects, and the audit log's seqs are gapless."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from audit.entry import Actor, EntryDraft
from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    Provenance,
    SourceKind,
    Window,
)
from tests.consents import covering
from tests.helpers import household_draft
from tests.stores import STORE_KINDS, running_record, store_under_test
from verifier.domain.consent import ConsentEvent, ConsentState, validate_consent
from verifier.domain.envelope_layout import EnvelopeParts, envelope_bytes
from verifier.domain.errors import Conflict
from verifier.domain.household import VerificationRequest, validate_request
from verifier.domain.outcomes import (
    Completeness,
    SourceOutcome,
    SourceStatus,
    VerificationState,
)
from verifier.domain.ports import (
    CachedResult,
    Store,
    StoredReport,
    UnitOfWork,
    VerificationRecord,
)
from verifier.domain.ports.terms import CheckOrigin, VerificationTerms

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
REF = "c" * 64


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    async with store_under_test(request.param, database_url, T0) as s:
        yield s


def a_request(request_id: str = "req-1") -> VerificationRequest:
    return validate_request(household_draft(request_id), today=T0.date())


def a_record(vid: str, request_id: str = "req-1", **kw: object) -> VerificationRecord:
    return running_record(vid, request_id, T0, **kw)


async def add_verification(
    store: Store, vid: str, request_id: str = "req-1", lease_until: datetime = T0
) -> VerificationRequest:
    request = a_request(request_id)
    async with store.unit_of_work(write=True) as uow:
        await uow.verifications.add(
            a_record(vid, request_id), request, "SQ-1", run_lease=("owner-a", lease_until)
        )
        await uow.commit()
    return request


def deposit(fen: int) -> AssetRecord:
    return AssetRecord(
        AssetCategory.DEPOSIT, "savings", fen, Provenance("bank", "fake-bank", "1", "R1", T0)
    )


def outcome(i: int, source: SourceKind, status: SourceStatus, **kw: object) -> SourceOutcome:
    return SourceOutcome(i, source, status, f"fake-{source.value}", "1", **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- verifications
async def test_a_verification_comes_back_as_stored_and_a_second_of_its_request_conflicts(
    store: Store,
) -> None:
    request = await add_verification(store, "v-1")
    async with store.unit_of_work(write=False) as uow:
        got = await uow.verifications.get("v-1")
        by_request = await uow.verifications.find_by_request("sys-a", "req-1")
        assert await uow.verifications.load_request("v-1") == request
        assert await uow.verifications.get("v-2") is None
        assert await uow.verifications.count_since("sys-a", "worker-1", T0) == 1
        assert await uow.verifications.count_since("sys-a", "worker-1", T0 + timedelta(1)) == 0
    assert got == by_request == a_record("v-1")
    async with store.unit_of_work(write=True) as uow:
        with pytest.raises(Conflict):
            await uow.verifications.add(a_record("v-2"), request, "SQ-1", run_lease=("owner-a", T0))


async def test_the_volume_count_holds_interactive_checks_only(store: Store) -> None:
    origins = {"v-1": None, "v-2": CheckOrigin.INTERACTIVE, "v-3": CheckOrigin.BATCH,
               "v-4": CheckOrigin.ROSTER}  # fmt: skip
    for i, (vid, origin) in enumerate(origins.items()):
        await add_verification(store, vid, f"req-{i}")
        if origin is not None:  # v-1 is from before terms were kept: interactive
            async with store.unit_of_work(write=True) as uow:
                await uow.terms.add(VerificationTerms(vid, False, None, None, origin=origin))
                await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.verifications.count_since("sys-a", "worker-1", T0) == 2
        assert (await uow.terms.get("v-4")) == VerificationTerms(
            "v-4", False, None, None, origin=CheckOrigin.ROSTER
        )


async def test_state_changes_and_an_uncommitted_unit_leaves_nothing(store: Store) -> None:
    await add_verification(store, "v-1")
    async with store.unit_of_work(write=True) as uow:
        await uow.verifications.set_state(
            "v-1", VerificationState.DONE, Completeness.PARTIAL, 1, T0
        )
        await uow.audit.append([EntryDraft(Actor("t"), "probe", "allow")])
    async with store.unit_of_work(write=True) as uow:
        locked = await uow.verifications.lock("v-1")
        assert locked is not None and locked.state is VerificationState.RUNNING
        await uow.verifications.set_state(
            "v-1", VerificationState.DONE, Completeness.PARTIAL, 1, T0
        )
        with pytest.raises(KeyError):
            await uow.verifications.set_state("nope", VerificationState.DONE, None, 1, T0)
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        done = await uow.verifications.get("v-1")
    assert done is not None
    assert (done.state, done.completeness, done.latest_version) == (
        VerificationState.DONE,
        Completeness.PARTIAL,
        1,
    )


# ---------------------------------------------------------------------- outcomes, polls
async def test_outcomes_come_back_in_order_with_records_and_a_pending_ticket(
    store: Store,
) -> None:
    await add_verification(store, "v-1")
    stored = [
        outcome(1, SourceKind.TAX, SourceStatus.NOT_FOUND, as_of=T0),
        outcome(0, SourceKind.BANK, SourceStatus.PENDING, ticket="T-1", retry_after=5.0),
        outcome(0, SourceKind.TAX, SourceStatus.FAILED, reason="HTTP 503", attempts=3),
    ]
    async with store.unit_of_work(write=True) as uow:
        await uow.outcomes.store("v-1", stored, T0)
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        answer = outcome(0, SourceKind.BANK, SourceStatus.FOUND, records=(deposit(700),))
        await uow.outcomes.store("v-1", [answer], T0, stored={(0, "bank"), (0, "tax"), (1, "tax")})
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        loaded = await uow.outcomes.load("v-1")
        summaries = await uow.outcomes.summaries("v-1")
    assert [(o.member_index, o.source, o.status) for o in loaded] == [
        (0, SourceKind.BANK, SourceStatus.FOUND),
        (0, SourceKind.TAX, SourceStatus.FAILED),
        (1, SourceKind.TAX, SourceStatus.NOT_FOUND),
    ]
    assert loaded[0].records == (deposit(700),) and loaded[0].ticket is None
    assert loaded[1].reason == "HTTP 503" and loaded[1].attempts == 3
    assert loaded[2].as_of == T0
    assert [(s.member_index, s.source, s.status) for s in summaries] == [
        (0, "bank", "FOUND"),
        (0, "tax", "FAILED"),
        (1, "tax", "NOT_FOUND"),
    ]


async def test_a_pending_source_is_leased_held_rescheduled_and_lost(store: Store) -> None:
    await add_verification(store, "v-1", lease_until=T0 + timedelta(hours=1))
    pending = outcome(0, SourceKind.BANK, SourceStatus.PENDING, ticket="T-1", retry_after=60.0)
    async with store.unit_of_work(write=True) as uow:
        await uow.outcomes.store("v-1", [pending], T0)
        await uow.commit()
    later = T0 + timedelta(minutes=2)
    async with store.unit_of_work(write=False) as uow:
        assert not await uow.polls.has_due_work(T0)
        assert await uow.polls.has_due_work(later)
    async with store.unit_of_work(write=True) as uow:
        [lease] = await uow.polls.lease("A", later, later + timedelta(minutes=1), 10)
        assert await uow.polls.lease("B", later, later + timedelta(minutes=1), 10) == []
        await uow.commit()
    assert (lease.verification_id, lease.member_index, lease.source, lease.ticket) == (
        "v-1",
        0,
        "bank",
        "T-1",
    )
    async with store.unit_of_work(write=True) as uow:
        assert await uow.polls.holds("v-1", 0, "bank", "A")
        assert not await uow.polls.holds("v-1", 0, "bank", "B")
        assert not await uow.polls.reschedule(lease, "B", later, "")
        assert await uow.polls.reschedule(lease, "A", later + timedelta(hours=1), "still pending")
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        assert not await uow.polls.holds("v-1", 0, "bank", "A")
        assert await uow.polls.lease("B", later, later + timedelta(minutes=1), 10) == []
        again = later + timedelta(hours=2)
        [retaken] = await uow.polls.lease("B", again, again + timedelta(minutes=1), 10)
        assert retaken.poll_attempts == lease.poll_attempts + 1
        [summary] = await uow.outcomes.summaries("v-1")
        assert summary.reason == "still pending"


async def test_a_run_whose_lease_expired_is_claimed_once(store: Store) -> None:
    await add_verification(store, "v-1", lease_until=T0)
    await add_verification(store, "v-2", "req-2", lease_until=T0 + timedelta(hours=1))
    now = T0 + timedelta(minutes=1)
    async with store.unit_of_work(write=False) as uow:
        assert await uow.polls.has_due_work(now)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.polls.claim_stale_runs("B", now, now + timedelta(minutes=1), 10) == ["v-1"]
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        assert await uow.polls.claim_stale_runs("C", now, now + timedelta(minutes=1), 10) == []


# ---------------------------------------------------------------------- reports, cache
async def test_reports_by_version_and_latest_and_a_second_version_n_conflicts(
    store: Store,
) -> None:
    await add_verification(store, "v-1")

    def report(version: int) -> StoredReport:
        return StoredReport(
            "v-1", version, f"r-{version}", b'{"payload": ""}', f"{version}" * 64, "",
            "kid", Completeness.COMPLETE, version, "{}", T0,
        )  # fmt: skip

    async with store.unit_of_work(write=True) as uow:
        await uow.reports.add(report(1))
        await uow.reports.add(report(2))
        await uow.reports.announce("v-1")
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.reports.get("v-1", 1) == report(1)
        assert await uow.reports.get("v-1", 0) == report(2)
        assert await uow.reports.get("v-1", 3) is None
        assert await uow.reports.get("v-2", 0) is None
    async with store.unit_of_work(write=True) as uow:
        with pytest.raises(Conflict):
            await uow.reports.add(report(2))


def a_report(version: int, records: int, summary: str = "{}", vid: str = "v-1") -> StoredReport:
    """A report version with a real envelope (storage keeps it as its parts) whose payload
    is larger than zlib's 32 KB window, as a household's report is, with a policy section
    (the part first versions share)."""
    rows = [
        {"category": "wages", "amount_fen": 360_000 + i, "month": i % 12} for i in range(records)
    ]
    policy = {f"param_{i}": {"value": i, "reference": "示例值"} for i in range(60)}
    doc = {"version": version, "records": rows, "policy": policy}
    payload = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    sig = (("kid-ed", base64.b64encode(bytes([version]) * 64).decode()),)
    envelope = envelope_bytes(EnvelopeParts("application/vnd.hedui.report+json", payload, sig))
    return StoredReport(
        vid, version, f"r-{vid}-{version}", envelope, f"{version}" * 64, "", "kid-ed",
        Completeness.COMPLETE, version, summary, T0,
    )  # fmt: skip


async def test_a_later_version_comes_back_byte_for_byte(store: Store) -> None:
    await add_verification(store, "v-1")
    first, later = a_report(1, 800), a_report(2, 801)
    assert len(first.envelope) > 32 * 1024
    async with store.unit_of_work(write=True) as uow:
        await uow.reports.add(first)
        await uow.reports.add(later)
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.reports.get("v-1", 2) == later
        assert await uow.reports.get("v-1", 0) == later
        assert await uow.reports.get("v-1", 1) == first


async def test_first_versions_of_two_checks_come_back_with_their_shared_part(
    store: Store,
) -> None:
    await add_verification(store, "v-1")
    await add_verification(store, "v-2", "req-2")
    one, two = a_report(1, 300), a_report(1, 310, vid="v-2")
    async with store.unit_of_work(write=True) as uow:
        await uow.reports.add(one)
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        await uow.reports.add(two)
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.reports.get("v-1", 1) == one
        assert await uow.reports.get("v-2", 1) == two


async def test_a_closed_checks_progress_is_its_last_reports(store: Store) -> None:
    await add_verification(store, "v-1")
    summary = {
        "sources": [
            {"member_index": 1, "source": "tax", "status": "NOT_FOUND", "record_count": 0,
             "reason": ""},
            {"member_index": 0, "source": "bank", "status": "FAILED", "record_count": 0,
             "reason": "HTTP 503"},
        ]
    }  # fmt: skip
    async with store.unit_of_work(write=True) as uow:
        await uow.outcomes.store("v-1", [outcome(0, SourceKind.BANK, SourceStatus.PENDING)], T0)
        await uow.reports.add(a_report(1, 10, json.dumps(summary)))
        await uow.outcomes.close("v-1")
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.outcomes.load("v-1") == []
        progress = await uow.outcomes.summaries("v-1")
    assert [(p.member_index, p.source, p.status, p.reason) for p in progress] == [
        (0, "bank", "FAILED", "HTTP 503"),
        (1, "tax", "NOT_FOUND", ""),
    ]


async def test_the_cache_keeps_the_latest_answer_and_gives_only_fresh_ones(store: Store) -> None:
    window = Window(date(2026, 5, 1), date(2026, 10, 31))

    def hit(fetched: datetime, fen: int) -> CachedResult:
        return CachedResult(
            REF, "bank", "FOUND", "fake-bank", "1", T0, fetched, (deposit(fen),), window
        )

    async with store.unit_of_work(write=True) as uow:
        await uow.cache.put([hit(T0, 100)])
        await uow.cache.put([hit(T0 + timedelta(days=1), 200)])
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        got = await uow.cache.get([(REF, "bank"), (REF, "tax")], T0)
        assert await uow.cache.get([(REF, "bank")], T0 + timedelta(days=2)) == {}
        assert await uow.cache.get([], T0) == {}
    assert got == {(REF, "bank"): hit(T0 + timedelta(days=1), 200)}


# ---------------------------------------------------------------------- consents, audit
async def test_a_consent_its_history_and_the_households_active_ones(store: Store) -> None:
    doc = validate_consent(covering("SQ-1", household_draft()), today=T0.date())
    async with store.unit_of_work(write=True) as uow:
        await uow.consents.add(doc, REF, ["r1", "r2", "r1"], T0)
        await uow.consents.add_event("SQ-1", ConsentEvent(T0, "registered", "sys-a", "w"))
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        with pytest.raises(Conflict):
            await uow.consents.add(doc, REF, ["r1"], T0)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.consents.active("370322", REF) == ["SQ-1"]
        await uow.consents.set_state("SQ-1", ConsentState.REVOKED)
        await uow.consents.add_event("SQ-1", ConsentEvent(T0, "revoked", "sys-a", "w", "why"))
        assert await uow.consents.active("370322", REF) == []
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        record = await uow.consents.get("SQ-1")
        assert await uow.consents.load_doc("SQ-1") == doc
        events = await uow.consents.events("SQ-1")
        assert await uow.consents.get("SQ-2") is None
    assert record is not None and record.state is ConsentState.REVOKED
    assert record.subject_refs == frozenset({"r1", "r2"}) and record.household_ref == REF
    assert [e.event for e in events] == ["registered", "revoked"]


async def test_audit_seqs_are_gapless_across_units_and_a_rolled_back_one_takes_none(
    store: Store,
) -> None:
    probe = EntryDraft(Actor("t"), "probe", "allow")
    async with store.unit_of_work(write=True) as uow:
        first = await uow.audit.append([probe, probe])
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        await uow.audit.append([probe])  # not committed
    async with store.unit_of_work(write=True) as uow:
        [third] = await uow.audit.append([probe])
        await uow.commit()
    seqs = [e.seq for e in first] + [third.seq]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    assert all(len(e.chain_hash) == 32 for e in [*first, third])


async def test_store_write_undoes_only_the_work_that_raised(store: Store) -> None:
    await add_verification(store, "v-1")

    class Boom(Exception):
        pass

    async def fails(uow: UnitOfWork) -> None:
        await uow.verifications.set_state("v-1", VerificationState.DONE, None, 1, T0)
        raise Boom

    with pytest.raises(Boom):
        await store.write(fails)
    async with store.unit_of_work(write=False) as uow:
        record = await uow.verifications.get("v-1")
    assert record is not None and record.state is VerificationState.RUNNING
