"""BatchService and urgent checks over a real grpc.aio server on a free
port, on both databases: a bad item is refused with its index and field while the others
run; resubmission by request id and by item key starts nothing twice; cancel; watch; an
urgent check overtakes queued batch work (order seen at the source, not timed); an
urgent check's first report does not wait for a slow source; refusals write nothing but
their one audited denial."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta

import grpc
import pytest
from hedui.v1 import batch_pb2 as bpb
from hedui.v1 import common_pb2
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import SourceKind
from tests import batches_api_helpers
from tests.batches_api_helpers import Build, Gated, check, counts, finished, item
from tests.fakes import FakeAdapter, synthetic_id
from tests.integration.test_grpc_api import rich_status, violations
from verifier.config import BatchesConfig, TimeLimitsConfig
from verifier.service.lanes import Lane

# The stack fixture, shared with the listing tests; pytest finds it by this module name.
make_stack = batches_api_helpers.make_stack


# --------------------------------------------------------------------------- batches
async def test_a_bad_item_is_refused_by_index_and_field_and_the_others_run(
    make_stack: Build,
) -> None:
    stack = await make_stack({SourceKind.TAX: FakeAdapter(SourceKind.TAX)})
    async with stack.client() as c:
        batch = await c.submit_batch("batch-1", [item(1), item(2, region="37032"), item(3)])
        assert batch.item_count == 3 and batch.state == bpb.BATCH_STATE_RUNNING
        [refusal] = batch.refusals
        assert refusal.index == 1 and refusal.item_key == "item-2"
        assert refusal.state == bpb.BATCH_ITEM_STATE_REFUSED
        assert [v.field for v in refusal.violations] == ["items[1].request.household.region_code"]
        seen = await finished(c, batch.batch_id)
        last = seen[-1]
        assert last.state == bpb.BATCH_STATE_DONE and last.HasField("complete_time")
        assert counts(last) == (0, 0, 2, 1, 0, 0)
        listed = await c.list_verifications(pb.ListVerificationsRequest(batch_id=batch.batch_id))
    assert sorted(v.request_id for v in listed.verifications) == ["item-1", "item-3"]
    assert all(v.batch_id == batch.batch_id for v in listed.verifications)
    assert all(v.latest_report_version >= 1 for v in listed.verifications)
    # Each item went through intake: its own authorize and access_intent entries.
    intents = await stack.audit("access_intent")
    assert sorted(e["request_id"] for e in intents) == ["item-1", "item-3"]
    [submitted] = await stack.audit("batch_submit")
    assert submitted["outcome"] == "allow" and submitted["details"]["refused_indexes"] == [1]
    events = await stack.rows("SELECT type FROM webhook_outbox")
    assert ("batch.completed",) in events
    # The receiver learns how the batch ended without asking: counts by final state and
    # its own reference for the batch; identifiers and numbers only.
    [(payload,)] = await stack.rows(
        "SELECT payload FROM webhook_outbox WHERE type = 'batch.completed'"
    )
    assert json.loads(payload)["data"] == {
        "batch_id": batch.batch_id,
        "request_id": "batch-1",
        "item_count": 3,
        "done": 2,
        "refused": 1,
        "denied": 0,
        "cancelled": 0,
    }


async def test_resubmitting_by_request_id_or_by_item_key_checks_no_household_twice(
    make_stack: Build,
) -> None:
    stack = await make_stack({SourceKind.TAX: FakeAdapter(SourceKind.TAX)})
    async with stack.client() as c:
        first = await c.submit_batch("batch-1", [item(1), item(2)])
        await finished(c, first.batch_id)
        again = await c.submit_batch("batch-1", [item(1), item(2)])
        assert again.batch_id == first.batch_id
        assert await stack.count("verifications") == 2
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.submit_batch("batch-1", [item(1)])
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        # A new batch with the same keys: linked to the checks already made; a key reused
        # for another household is refused on the item's key.
        other = bpb.BatchItem(item_key="item-2", request=check(9))
        second = await c.submit_batch("batch-2", [item(1), other, item(3)])
        last = (await finished(c, second.batch_id))[-1]
    assert counts(last) == (0, 0, 2, 1, 0, 0)
    [refusal] = last.refusals
    assert (refusal.index, [v.field for v in refusal.violations]) == (1, ["items[1].item_key"])
    assert await stack.count("verifications") == 3  # only item-3 was new
    intents = await stack.audit("access_intent")
    assert sorted(e["request_id"] for e in intents) == ["item-1", "item-2", "item-3"]


async def test_cancel_takes_the_queued_items_and_the_running_one_finishes(
    make_stack: Build,
) -> None:
    tax = Gated(SourceKind.TAX)
    stack = await make_stack({SourceKind.TAX: tax}, batches=BatchesConfig(concurrency=1))
    async with stack.client() as c:
        batch = await c.submit_batch("batch-1", [item(i) for i in range(1, 5)])
        await tax.until_asked(1)
        cancelled = await c.cancel_batch(batch.batch_id)
        assert cancelled.cancelled == 3
        assert counts(cancelled.batch) == (0, 1, 0, 0, 0, 3)
        tax.open()
        last = (await finished(c, batch.batch_id))[-1]
        again = await c.cancel_batch(batch.batch_id)
    assert last.state == bpb.BATCH_STATE_CANCELLED and counts(last) == (0, 0, 1, 0, 0, 3)
    assert again.cancelled == 0 and again.batch.state == bpb.BATCH_STATE_CANCELLED
    assert len(tax.asked) == 1
    assert [e["details"]["cancelled"] for e in await stack.audit("batch_cancel")] == [3, 0]
    assert await stack.rows(
        "SELECT count(*) FROM batch_items WHERE request_sealed IS NOT NULL"
    ) == [(0,)]


async def test_watch_tells_each_change_once_and_ends_when_the_batch_is_done(
    make_stack: Build,
) -> None:
    tax = Gated(SourceKind.TAX)
    stack = await make_stack({SourceKind.TAX: tax}, batches=BatchesConfig(concurrency=1))
    async with stack.client() as c:
        batch = await c.submit_batch("batch-1", [item(1), item(2)])
        watched = asyncio.ensure_future(finished(c, batch.batch_id))
        await tax.until_asked(1)
        tax.go.release()
        await tax.until_asked(2)
        tax.go.release()
        seen = await asyncio.wait_for(watched, 30)
        reconnect = [b async for b in c.watch_batch(batch.batch_id, timeout=10)]
    states = [counts(b) for b in seen]
    assert len(states) == len(set(states))  # no repeats
    assert states[-1] == (0, 0, 2, 0, 0, 0)
    assert [counts(b) for b in reconnect] == [(0, 0, 2, 0, 0, 0)]


async def test_an_urgent_check_overtakes_batch_work_queued_at_a_source(
    make_stack: Build,
) -> None:
    from verifier.service.fanout import SourcePolicy

    tax = Gated(SourceKind.TAX)
    stack = await make_stack(
        {SourceKind.TAX: tax},
        policies={SourceKind.TAX: SourcePolicy(max_concurrency=1, retries=0)},
        batches=BatchesConfig(concurrency=4),
    )
    gate = stack.app.fanout.gate(SourceKind.TAX)
    assert gate is not None
    async with stack.client() as c:
        batch = await c.submit_batch("batch-1", [item(i) for i in range(1, 5)])
        await tax.until_asked(1)
        for _ in range(200):
            if gate.waiting(Lane.BATCH) == 3:
                break
            await asyncio.sleep(0.01)
        assert gate.waiting(Lane.BATCH) == 3
        urgent = await c.create(check(50, urgent=True, request_id="urgent-1"))
        assert urgent.urgent
        for _ in range(200):
            if gate.waiting(Lane.URGENT) == 1:
                break
            await asyncio.sleep(0.01)
        tax.open()
        await finished(c, batch.batch_id)
    order = [tax.asked.index(synthetic_id(seq=s, born=date(1970, 1, 1))) for s in (1, 50)]
    assert order == [0, 1]  # the batch call already running, then the urgent one
    assert gate.granted[Lane.URGENT] == 1 and gate.granted[Lane.BATCH] == 4


async def test_an_urgent_check_reports_before_a_slow_source_answers(make_stack: Build) -> None:
    slow = Gated(SourceKind.BANK)
    stack = await make_stack(
        {SourceKind.TAX: FakeAdapter(SourceKind.TAX), SourceKind.BANK: slow},
        time_limits=TimeLimitsConfig(urgent_first_report_seconds=0.3),
    )
    async with stack.client() as c:
        req = check(7, urgent=True, request_id="urgent-7")
        req.wait = True
        v1 = await c.create(req)
        assert v1.latest_report_version == 1
        assert v1.state == pb.VERIFICATION_STATE_RUNNING  # the slow source is still asked
        pending = [p for p in v1.progress if p.status == common_pb2.SOURCE_STATUS_PENDING]
        assert [p.source for p in pending] == [common_pb2.SOURCE_KIND_BANK]
        assert v1.urgent and v1.HasField("due_date") and not v1.overdue
        started = datetime.now(UTC)
        due = started + timedelta(hours=24)
        assert (v1.due_date.year, v1.due_date.month, v1.due_date.day) in {
            (d.year, d.month, d.day) for d in (due, due + timedelta(hours=8))
        }
        slow.open()
        async for event in c.watch(v1.verification_id, timeout=30):
            if event.WhichOneof("event") == "state_changed" and event.state_changed == (
                pb.VERIFICATION_STATE_DONE
            ):
                break
        done = await c.get(v1.verification_id)
    assert done.latest_report_version == 2 and done.state == pb.VERIFICATION_STATE_DONE
    assert {p.status for p in done.progress} == {common_pb2.SOURCE_STATUS_NOT_FOUND}


async def test_batch_refusals_write_nothing_but_their_one_denial(make_stack: Build) -> None:
    stack = await make_stack({SourceKind.TAX: FakeAdapter(SourceKind.TAX)})
    before = await stack.counts()
    async with stack.client() as c:
        for request_id, items, fields in [
            ("bad id\n", [item(1)], {"request_id"}),
            ("batch-1", [], {"items"}),
            ("batch-1", [item(1, region="x")], {"items[0].request.household.region_code"}),
            (
                "batch-1",
                [bpb.BatchItem(item_key=synthetic_id(seq=3), request=check(3))],
                {"items[0].item_key"},
            ),
            (
                "batch-1",
                [bpb.BatchItem(item_key="k", request=check(3, urgent=True))],
                {"items[0].request.urgent"},
            ),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.submit_batch(request_id, items)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert set(violations(err.value)) == fields
        assert await stack.counts() == before
        async with stack.client(user="reviewer-1", role="reviewer") as r:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await r.submit_batch("batch-1", [item(1)])
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert rich_status(err.value).details
        after = await stack.counts()
        assert {k: after[k] - before[k] for k in after} == {
            **dict.fromkeys(before, 0),
            "audit_entries": 1,
        }
        [denied] = await stack.audit("batch_submit")
        assert (denied["outcome"], denied["reason"]) == ("deny", "ROLE_NOT_ALLOWED")
        batch = await c.submit_batch("batch-1", [item(1)])
        await finished(c, batch.batch_id)
        for bad in ("", "NOT-A-UUID", batch.batch_id.upper()):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.get_batch(bad)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    async with stack.client(user="worker-b", system="case-system-b") as other:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await other.get_batch(batch.batch_id)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await other.cancel_batch(batch.batch_id)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


# --------------------------------------------------------------------------- listing
