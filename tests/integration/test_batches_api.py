"""BatchService, urgent checks and ListVerifications over a real grpc.aio server on a free
port, on both databases: a bad item is refused with its index and field while the others
run; resubmission by request id and by item key starts nothing twice; cancel; watch; an
urgent check overtakes queued batch work (order seen at the source, not timed); an
urgent check's first report does not wait for a slow source; refusals write nothing but
their one audited denial."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from hedui.v1 import batch_pb2 as bpb
from hedui.v1 import common_pb2
from hedui.v1 import verification_pb2 as pb
from sqlalchemy import text

from hedui_sdk import SourceKind, SourceQuery, SourceResult
from tests.fakes import AS_OF, FakeAdapter, synthetic_id
from tests.helpers import SYSTEM, make_app
from tests.integration.test_grpc_api import rich_status, violations
from tests.served import ServedStack
from verifier.api.client import Client
from verifier.config import BatchesConfig, TimeLimitsConfig
from verifier.service.lanes import Lane


class Gated(FakeAdapter):
    """Answers NOT_FOUND, but only when let through (``go``), one call per release;
    records who was asked, in the order they were asked."""

    def __init__(self, source: SourceKind) -> None:
        super().__init__(source)
        self.asked: list[str] = []
        self.go = asyncio.Semaphore(0)
        self.opened = asyncio.Event()
        self.arrived = asyncio.Condition()

    def open(self) -> None:
        """Let every call through, now and later."""
        self.opened.set()

    async def query(self, q: SourceQuery) -> SourceResult:
        async with self.arrived:
            self.asked.append(q.subject.id_number)
            self.arrived.notify_all()
        if not self.opened.is_set():
            waits = {
                asyncio.ensure_future(self.go.acquire()),
                asyncio.ensure_future(self.opened.wait()),
            }
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for p in pending:
                p.cancel()
        return SourceResult.not_found(AS_OF)

    async def until_asked(self, n: int) -> None:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.asked) >= n), 20)


class Stack(ServedStack):
    async def counts(self) -> dict[str, int]:
        tables = ["verifications", "batches", "batch_items", "verification_terms",
                  "audit_entries", "webhook_outbox"]  # fmt: skip
        return {t: await self.count(t) for t in tables}

    async def audit(self, action: str) -> list[dict[str, Any]]:
        rows = await self.rows("SELECT body FROM audit_entries ORDER BY seq")
        bodies = [json.loads(bytes(b)) for (b,) in rows]
        return [b for b in bodies if b["action"] == action]


Build = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def make_stack(database_url: str, keys_dir: Path) -> AsyncIterator[Build]:
    stacks: list[Stack] = []

    async def build(adapters: dict[SourceKind, Any], **kw: Any) -> Stack:
        stack = await Stack.serve(await make_app(database_url, keys_dir, adapters, **kw))
        stacks.append(stack)
        return stack

    yield build
    for s in stacks:
        await s.close()


def member(number: str) -> pb.Member:
    return pb.Member(
        id_type=common_pb2.ID_TYPE_RESIDENT_ID,
        id_number=number,
        name="测试",
        relation=common_pb2.RELATION_APPLICANT,
    )


def check(seq: int, *, region: str = "370322", urgent: bool = False,
          request_id: str = "") -> pb.CreateVerificationRequest:  # fmt: skip
    return pb.CreateVerificationRequest(
        request_id=request_id,
        case_id=f"CASE-{seq}",
        authorization_id="SQ-1",
        purposes=[common_pb2.PURPOSE_DIBAO],
        household=pb.Household(
            region_code=region, members=[member(synthetic_id(seq=seq, born=date(1970, 1, 1)))]
        ),
        hukou_nature=common_pb2.HUKOU_NATURE_URBAN,
        urgent=urgent,
    )


def item(seq: int, **kw: Any) -> bpb.BatchItem:
    return bpb.BatchItem(item_key=f"item-{seq}", request=check(seq, **kw))


async def finished(client: Client, batch_id: str) -> list[bpb.Batch]:
    seen = []
    async for b in client.watch_batch(batch_id, timeout=60):
        seen.append(b)
    assert seen[-1].state in (bpb.BATCH_STATE_DONE, bpb.BATCH_STATE_CANCELLED)
    return seen


def counts(b: bpb.Batch) -> tuple[int, ...]:
    p = b.progress
    return (p.queued, p.running, p.done, p.refused, p.denied, p.cancelled)


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
async def test_list_verifications_filters_pages_and_refusals(make_stack: Build) -> None:
    stack = await make_stack({SourceKind.TAX: FakeAdapter(SourceKind.TAX)})
    async with stack.client() as c:
        for seq in range(1, 7):
            create = check(seq, request_id=f"r-{seq}", urgent=seq == 5)
            if seq == 6:
                create.household.region_code = "370305"
            create.wait = True
            await c.create(create)
        # One check past its due date, as if it had waited for a bank for weeks.
        await stack.app.store.write(_overdue("r-2"))
        # The server's overdue scan flags r-2 once (an audit entry and an outbox event); run
        # it now so that flag cannot land between the row counts taken below.
        assert stack.app.overdue is not None
        await stack.app.overdue.tick()

        async def ids(**kw: Any) -> list[str]:
            out: list[str] = []
            token = ""
            while True:
                page = await c.list_verifications(
                    pb.ListVerificationsRequest(page_token=token, **kw)
                )
                out += [v.request_id for v in page.verifications]
                token = page.next_page_token
                if not token:
                    return out

        assert await ids(page_size=2) == ["r-6", "r-5", "r-4", "r-3", "r-2", "r-1"]
        assert await ids(region_prefix="370305") == ["r-6"]
        assert await ids(case_id="CASE-3") == ["r-3"]
        assert await ids(urgent=True) == ["r-5"]
        assert await ids(overdue=True) == ["r-2"]
        assert await ids(state=pb.VERIFICATION_STATE_DONE, page_size=500) == [
            "r-6", "r-5", "r-4", "r-3", "r-1"
        ]  # fmt: skip
        today = datetime.now(UTC).date()
        day = {"year": today.year, "month": today.month, "day": today.day}
        tomorrow = today + timedelta(days=2)
        later = {"year": tomorrow.year, "month": tomorrow.month, "day": tomorrow.day}
        assert len(await ids(created_from=day)) == 6
        assert await ids(created_from=later) == []
        page = await c.list_verifications(pb.ListVerificationsRequest(overdue=True))
        [late] = page.verifications
        assert late.overdue and late.region_code == "370322" and late.HasField("due_date")
        assert not late.progress

        before = await stack.counts()
        token = (
            await c.list_verifications(pb.ListVerificationsRequest(page_size=1))
        ).next_page_token
        before["audit_entries"] += 1
        for req, field in [
            (pb.ListVerificationsRequest(page_size=501), "page_size"),
            (pb.ListVerificationsRequest(page_size=-1), "page_size"),
            (pb.ListVerificationsRequest(page_token="c2VxOjE"), "page_token"),
            (pb.ListVerificationsRequest(page_token=token, case_id="CASE-1"), "page_token"),
            (pb.ListVerificationsRequest(page_token=_tampered(token)), "page_token"),
            (pb.ListVerificationsRequest(case_id="CASE\n"), "case_id"),
            (pb.ListVerificationsRequest(state=9), "state"),  # type: ignore[arg-type]
            (pb.ListVerificationsRequest(region_prefix="370"), "region_prefix"),
            (pb.ListVerificationsRequest(batch_id="x"), "batch_id"),
            (
                pb.ListVerificationsRequest(created_from={"year": 2026, "month": 2, "day": 30}),
                "created_from",
            ),
            (pb.ListVerificationsRequest(created_from=later, created_to=day), "created_to"),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await c.list_verifications(req)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
            assert set(violations(err.value)) == {field}
        assert await stack.counts() == before
        for who, req, _reason in [
            (stack.client(user="aud-1", role="auditor"), pb.ListVerificationsRequest(),
             "ROLE_NOT_ALLOWED"),
            (stack.client(), pb.ListVerificationsRequest(region_prefix="3418"), "OUT_OF_REGION"),
        ]:  # fmt: skip
            async with who as client:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await client.list_verifications(req)
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        after = await stack.counts()
        assert {k: after[k] - before[k] for k in after} == {
            **dict.fromkeys(before, 0),
            "audit_entries": 2,
        }
        denials = [e for e in await stack.audit("verification_list") if e["outcome"] == "deny"]
        assert [e["reason"] for e in denials] == ["ROLE_NOT_ALLOWED", "OUT_OF_REGION"]
    async with stack.client(user="worker-b", system="case-system-b") as other:
        assert (await other.list_verifications(pb.ListVerificationsRequest())).verifications == []


def _tampered(token: str) -> str:
    """The token with one character changed: a middle one, whose six bits all count (a last
    character may carry only padding bits, and may already be the replacement)."""
    i = len(token) // 2
    return token[:i] + ("B" if token[i] == "A" else "A") + token[i + 1 :]


def _overdue(request_id: str) -> Any:
    async def work(uow: Any) -> None:
        record = await uow.verifications.find_by_request(SYSTEM, request_id)
        await uow.verifications.set_state(
            record.id, _awaiting(), None, record.latest_version, record.created_at
        )
        await uow.session.execute(
            text("UPDATE verification_terms SET due_at = :at WHERE verification_id = :vid"),
            {"at": _sql_time(datetime.now(UTC) - timedelta(days=1), uow), "vid": record.id},
        )

    return work


def _awaiting() -> Any:
    from verifier.domain.outcomes import VerificationState

    return VerificationState.AWAITING_SOURCES


def _sql_time(at: datetime, uow: Any) -> Any:
    # The column type stores naive UTC on SQLite and aware values on PostgreSQL.
    return at.replace(tzinfo=None) if uow.session.bind.dialect.name == "sqlite" else at
