"""Batch bookkeeping on fakes: how a submission is checked, what is stored and audited,
how the runner moves items through their states, and the overdue scan."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import IdType, SourceKind
from tests.fakes import AllowAllConsents, FakeAdapter, InMemoryStore, synthetic_id
from tests.helpers import household_draft
from verifier.domain.batches import (
    BatchCounts,
    BatchState,
    ItemDraft,
    ItemState,
    check_submission,
)
from verifier.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from verifier.domain.household import MemberDraft, Relation, RequestDraft
from verifier.domain.ports import Caller, UnitOfWork
from verifier.domain.webhooks import EventType, OutboxEvent
from verifier.service.batch_runner import BatchRunner
from verifier.service.batches import BatchService
from verifier.service.fanout import FanOut, bind_sources
from verifier.service.time_limits import OverdueScan
from verifier.service.verifications import VerificationService
from verifier.signing.signer import ReportSigner

TODAY = date(2026, 12, 1)
KEY = b"k" * 32
WORKER = Caller("case-system-a", "worker-1", "caseworker", ("3703",))


def draft(seq: int, region: str = "370322", **kw: object) -> RequestDraft:
    member = MemberDraft(
        IdType.RESIDENT_ID, synthetic_id(seq=seq, born=date(1970, 1, 1)), "甲", Relation.APPLICANT
    )
    return household_draft("", region, members=(member,), **kw)


def items(*seqs: int) -> list[ItemDraft]:
    return [ItemDraft(f"item-{s}", draft(s)) for s in seqs]


# --------------------------------------------------------------------------- checking
def test_each_bad_item_is_refused_on_its_own_fields_and_the_others_accepted() -> None:
    sub = check_submission(
        "batch-1",
        [
            ItemDraft("item-0", draft(0)),
            ItemDraft("item-1", draft(1, region="37032")),
            ItemDraft("item-0", draft(2)),
            ItemDraft("bad key\n", draft(3)),
            ItemDraft("item-4", replace(draft(4), request_id="other")),
            ItemDraft("item-5", draft(5), wait=True, urgent=True),
            ItemDraft("item-6", draft(6)),
        ],
        today=TODAY,
    )
    assert sub.accepted == 2
    fields = {r.index: [v.field for v in r.violations] for r in sub.refusals}
    assert fields == {
        1: ["items[1].request.household.region_code"],
        2: ["items[2].item_key"],
        3: ["items[3].item_key"],
        4: ["items[4].request.request_id"],
        5: ["items[5].request.wait", "items[5].request.urgent"],
    }
    accepted = [i for i in sub.items if i.refusal is None]
    assert [(i.index, i.item_key) for i in accepted] == [(0, "item-0"), (6, "item-6")]
    assert all(i.request is not None and i.request.request_id == i.item_key for i in accepted)
    assert [r.item_key for r in sub.refusals] == ["item-1", "", "", "item-4", "item-5"]


@pytest.mark.parametrize(
    ("request_id", "given", "fields"),
    [
        ("", items(1), ["request_id"]),
        ("batch-1", [], ["items"]),
        ("batch-1", [ItemDraft(f"item-{i}", draft(1)) for i in range(5001)], ["items"]),
        ("batch-1", [ItemDraft("a", draft(1, region="x")), ItemDraft("a", draft(2))],
         ["items[0].request.household.region_code", "items[1].item_key"]),
    ],
)  # fmt: skip
def test_a_submission_malformed_as_a_whole_or_with_nothing_to_run_is_refused(
    request_id: str, given: list[ItemDraft], fields: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_submission(request_id, given, today=TODAY)
    assert [v.field for v in err.value.violations] == fields


# --------------------------------------------------------------------------- the service
async def test_submit_stores_and_audits_and_a_replay_returns_the_same_batch() -> None:
    store = InMemoryStore()
    svc = BatchService(store, KEY)
    view = await svc.submit(WORKER, "batch-1", [*items(1, 2), ItemDraft("x", draft(3, "1"))])
    assert view.counts == BatchCounts(queued=2, refused=1)
    assert view.record.state is BatchState.RUNNING and view.record.item_count == 3
    assert svc.notices.submitted.is_set()
    again = await svc.submit(WORKER, "batch-1", [*items(1, 2), ItemDraft("x", draft(3, "1"))])
    assert again.record.id == view.record.id
    with pytest.raises(FailedPrecondition):
        await svc.submit(WORKER, "batch-1", items(1))
    [entry] = [e for e in store.entries() if e["action"] == "batch_submit"]
    assert entry["details"] == {
        "batch_id": view.record.id, "items": 3, "accepted": 2, "refused": 1,
        "refused_indexes": [2],
    }  # fmt: skip
    assert synthetic_id(seq=1, born=date(1970, 1, 1)) not in str(store.entries())


async def test_refusals_and_other_systems() -> None:
    store = InMemoryStore()
    svc = BatchService(store, KEY)
    reviewer = replace(WORKER, user="reviewer-1", role="reviewer")
    with pytest.raises(InvalidArgument):
        await svc.submit(reviewer, "", items(1))  # malformed first, whoever asks
    assert store.entries() == []
    with pytest.raises(PermissionDenied):
        await svc.submit(reviewer, "batch-1", items(1))
    assert [(e["action"], e["outcome"]) for e in store.entries()] == [("batch_submit", "deny")]
    view = await svc.submit(WORKER, "batch-1", items(1))
    assert (await svc.get(reviewer, view.record.id)).record.id == view.record.id
    with pytest.raises(PermissionDenied):
        await svc.cancel(reviewer, view.record.id)
    other = replace(WORKER, system="case-system-b")
    for call in (svc.get(other, view.record.id), svc.cancel(other, view.record.id)):
        with pytest.raises(NotFound):
            await call


# --------------------------------------------------------------------------- the runner
def rig(store: InMemoryStore, **kw: object) -> VerificationService:
    fanout = FanOut(bind_sources({SourceKind.TAX: FakeAdapter(SourceKind.TAX)}, {}))
    return VerificationService(
        store=store,
        fanout=fanout,
        signer=ReportSigner(Ed25519PrivateKey.generate()),
        pseudonym_key=KEY,
        consents=AllowAllConsents(),
        **kw,  # type: ignore[arg-type]
    )


async def outbox(store: InMemoryStore, kind: EventType) -> list[OutboxEvent]:
    return [row.event for row in store.tables.webhooks.outbox.values() if row.event.type is kind]


async def test_the_runner_takes_each_item_to_a_final_state_and_completes_the_batch() -> None:
    store = InMemoryStore()
    service = rig(store, volume_hard=2)
    svc = BatchService(store, KEY)
    runner = BatchRunner(store, service, svc.notices, concurrency=1)
    first = await svc.submit(WORKER, "batch-0", items(9))
    while await runner.tick():
        await runner.drain()
    view = await svc.submit(
        WORKER,
        "batch-1",
        [
            ItemDraft("item-9", draft(8)),  # the key of a check made for another household
            *items(1),
            ItemDraft("item-2", draft(2, region="341824")),  # outside the caller's regions
            *items(3),  # past the per-user limit of 2 checks a day: batches are not held to it
        ],
    )
    while await runner.tick():
        await runner.drain()
    done = await svc.get(WORKER, view.record.id)
    assert done.record.state is BatchState.DONE
    assert done.counts == BatchCounts(done=2, refused=1, denied=1)
    assert [(r.index, r.state, r.reason) for r in done.refusals] == [
        (0, ItemState.REFUSED, ""),
        (2, ItemState.DENIED, "OUT_OF_REGION"),
    ]
    assert [v.field for v in done.refusals[0].violations] == ["items[0].item_key"]
    events = await outbox(store, EventType.BATCH_COMPLETED)
    assert len(events) == 2
    assert {dict(e.data)["batch_id"] for e in events} == {first.record.id, view.record.id}
    await service.aclose()


async def test_a_batch_past_the_per_user_limit_runs_whole_and_interactive_checks_are_still_held() -> (
    None
):
    store = InMemoryStore()
    service = rig(store, volume_soft=2, volume_hard=3)
    svc = BatchService(store, KEY)
    runner = BatchRunner(store, service, svc.notices, concurrency=2)
    view = await svc.submit(WORKER, "batch-1", items(1, 2, 3, 4, 5, 6))
    while await runner.tick():
        await runner.drain()
    done = await svc.get(WORKER, view.record.id)
    assert done.counts == BatchCounts(done=6)
    # The batch's six checks are the batch's: the same user's interactive checks still
    # have their three, and the fourth is refused.
    for seq in (7, 8, 9):
        await service.create(WORKER, replace(draft(seq), request_id=f"r-{seq}"), wait=True)
    with pytest.raises(ResourceExhausted) as refused:
        await service.create(WORKER, replace(draft(10), request_id="r-10"), wait=True)
    assert refused.value.reason == "VOLUME_LIMIT"
    origins = [e["details"]["origin"] for e in store.entries()
               if e["action"] == "authorize" and e["outcome"] == "allow"]  # fmt: skip
    assert origins == ["batch"] * 6 + ["interactive"] * 3
    # Only the interactive ones count towards the soft limit's anomaly and the refusal's.
    anomalies = [e["details"]["checks_in_window"] for e in store.entries()
                 if e["action"] == "anomaly"]  # fmt: skip
    assert anomalies == [2, 4]
    await service.aclose()


async def test_a_cancelled_batch_starts_nothing_more() -> None:
    store = InMemoryStore()
    service = rig(store)
    svc = BatchService(store, KEY)
    runner = BatchRunner(store, service, svc.notices, concurrency=2)
    view = await svc.submit(WORKER, "batch-1", items(1, 2, 3))
    _, cancelled = await svc.cancel(WORKER, view.record.id)
    assert cancelled == 3
    assert await runner.tick() == 0
    done = await svc.get(WORKER, view.record.id)
    assert done.record.state is BatchState.CANCELLED
    assert done.counts == BatchCounts(cancelled=3)
    assert store.tables.verifications == {}
    await service.aclose()


async def test_an_item_taken_over_after_a_crash_leads_back_to_the_same_check() -> None:
    store = InMemoryStore()
    service = rig(store)
    svc = BatchService(store, KEY)
    view = await svc.submit(WORKER, "batch-1", items(1))
    # A replica claimed the item, started its check, and died before recording it.
    now = datetime.now(UTC)

    async def claim(uow: UnitOfWork) -> None:
        await uow.batches.claim("dead-replica", now, now + timedelta(seconds=1), 10)

    await store.write(claim)
    item = store.tables.batches.items[(view.record.id, 0)]
    assert item.request is not None
    await service.create_checked(WORKER, item.request, wait=True)
    later = BatchRunner(
        store, service, svc.notices, clock=lambda: datetime.now(UTC) + timedelta(minutes=5)
    )
    assert await later.tick() == 1
    await later.drain()
    done = await svc.get(WORKER, view.record.id)
    assert done.counts == BatchCounts(done=1)
    assert len(store.tables.verifications) == 1
    await service.aclose()


async def test_the_runner_waits_for_room_and_for_news() -> None:
    store = InMemoryStore()
    service = rig(store)
    svc = BatchService(store, KEY)
    runner = BatchRunner(store, service, svc.notices, concurrency=2)
    stop = asyncio.Event()
    loop = asyncio.create_task(runner.run(stop, interval=30))
    view = await svc.submit(WORKER, "batch-1", items(1, 2, 3, 4, 5))
    watched = [v async for v in svc.watch(WORKER, view.record.id)]
    stop.set()
    await asyncio.wait_for(loop, 5)
    assert watched[-1].counts == BatchCounts(done=5)
    assert watched[-1].record.state is BatchState.DONE
    await service.aclose()


# --------------------------------------------------------------------------- overdue
async def test_the_overdue_scan_flags_each_late_check_once_with_its_webhook() -> None:
    store = InMemoryStore()
    service = rig(store)
    view = await service.create(WORKER, replace(draft(1), request_id="r-1"), wait=True)
    assert view.terms is not None and view.terms.due_date is not None
    due = view.terms.due_at
    assert due is not None

    # Still waiting for a source at its due time:
    async def awaiting(uow: UnitOfWork) -> None:
        from verifier.domain.outcomes import VerificationState

        await uow.verifications.set_state(
            view.record.id, VerificationState.AWAITING_SOURCES, None, 1, due
        )

    await store.write(awaiting)
    scan = OverdueScan(store, clock=lambda: due + timedelta(seconds=1))
    assert await OverdueScan(store, clock=lambda: due).tick() == 0
    assert await scan.tick() == 1
    assert await scan.tick() == 0
    [event] = await outbox(store, EventType.VERIFICATION_OVERDUE)
    assert dict(event.data)["verification_id"] == view.record.id
    flagged = [e for e in store.entries() if e["reason"] == "CHECK_OVERDUE"]
    assert len(flagged) == 1 and flagged[0]["verification_id"] == view.record.id
    await service.aclose()


# --------------------------------------------------------------------------- yielding
async def test_batch_work_waits_for_interactive_checks_in_flight_but_not_forever() -> None:
    from verifier.service.runs import Runs

    runs = Runs()
    await asyncio.wait_for(runs.quiet(10), 1)  # nothing ahead: at once
    runs.ahead_began()
    runs.ahead_began()
    waiting = asyncio.create_task(runs.quiet(10))
    await asyncio.sleep(0)
    runs.ahead_ended()
    await asyncio.sleep(0)
    assert not waiting.done()  # one is still being run
    runs.ahead_ended()
    await asyncio.wait_for(waiting, 1)
    runs.ahead_began()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await runs.quiet(0.05)  # a steady stream of checks cannot hold batch work up for long
    assert loop.time() - started >= 0.04


async def test_an_interactive_check_is_ahead_until_its_first_report() -> None:
    store = InMemoryStore()
    hanging = FakeAdapter(SourceKind.TAX, hang=True)
    service = VerificationService(
        store=store,
        fanout=FanOut(bind_sources({SourceKind.TAX: hanging}, {})),
        signer=ReportSigner(Ed25519PrivateKey.generate()),
        pseudonym_key=KEY,
        consents=AllowAllConsents(),
        deadline_seconds=0.3,
    )
    await service.create(WORKER, replace(draft(1), request_id="r-1"), wait=False)
    await hanging.started.wait()
    turn = asyncio.create_task(service.batch_turn(at_most=10))
    await asyncio.sleep(0)
    assert not turn.done()
    await asyncio.wait_for(turn, 5)  # the source's deadline ends the run: its report issued
    await service.aclose()
