"""The served stack, gated sources and request builders the BatchService and
ListVerifications API tests share."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hedui.v1 import batch_pb2 as bpb
from hedui.v1 import common_pb2
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import SourceKind, SourceQuery, SourceResult
from tests.fakes import AS_OF, FakeAdapter, synthetic_id
from tests.helpers import make_app
from tests.served import ServedStack
from verifier.api.client import Client


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
