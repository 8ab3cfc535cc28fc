"""One server on one database, and one generated call against it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections import Counter
from datetime import date, timedelta
from typing import Any

import grpc
import structlog
import structlog.testing
from google.protobuf.descriptor import MethodDescriptor
from google.rpc import status_pb2
from hedui.v1 import batch_pb2, consent_pb2
from sqlalchemy import text

from hedui_sdk import resident_id
from tests.api_fuzz.api import CALL_TIMEOUT, CALLERS, FRESH_KEYS, SHRINK, Code
from tests.api_fuzz.requests import Case, valid_requests
from tests.api_fuzz.rules import Outcome, Snapshot, batches, failure_kind, judge
from tests.api_fuzz.world import CALLER_A, World, settle
from tests.consents import consent_draft
from tests.proto_strategies import (
    describe,
    message_class,
)
from verifier.api.server import RunningServer
from verifier.bootstrap import App
from verifier.domain.errors import FailedPrecondition
from verifier.domain.household import Relation
from verifier.storage.uow import SqlStore


class Fuzz:
    """One server on one database, for the whole module; calls made on a loop we own."""

    def __init__(
        self,
        runner: asyncio.Runner,
        app: App,
        server: RunningServer,
        world: World,
        tables: list[str],
        backend: str,
        served: frozenset[str],
    ) -> None:
        self.runner = runner
        self.app = app
        self.server = server
        self.world = world
        self.tables = tables
        self.backend = backend
        self.served = served
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
        self.valid = valid_requests(world)
        self.stats: Counter[str] = Counter()
        self.found: dict[str, str] = {}
        self.nonce = 0
        self.accepted_items = 0  # batch items SubmitBatch accepted, in this RPC's run

    # ---------------------------------------------------------------- state
    async def snapshot(self) -> Snapshot:
        """Row counts of every table, and the audit log's size (its head), in one read."""
        assert isinstance(self.app.store, SqlStore)
        counts = [f"SELECT '{t}', count(*) FROM \"{t}\"" for t in self.tables]
        head = "SELECT '', last_seq + 1 FROM audit_head"
        async with self.app.store.db.read_sessions() as s:
            result = await s.execute(text(" UNION ALL ".join([*counts, head])))
            rows = {str(t): int(n) for t, n in result.all()}
        size = rows.pop("", 0)
        return Snapshot(rows, size)

    async def entries_since(self, size: int) -> list[dict[str, Any]]:
        assert isinstance(self.app.store, SqlStore)
        async with self.app.store.db.read_sessions() as s:
            rows = await s.execute(
                text("SELECT body FROM audit_entries WHERE seq >= :n ORDER BY seq"), {"n": size}
            )
            return [json.loads(bytes(b)) for (b,) in rows]

    async def prepare(self, method: MethodDescriptor, case: Case) -> None:
        """What a valid request presupposes. Its key is made fresh (hypothesis repeats
        draws, and a repeated key only ever reaches the replay or "already registered"
        answer), unless the key is the field that was changed; and a revocation needs an
        ACTIVE 授权书 to revoke."""
        if case.base is None:
            return
        key = FRESH_KEYS.get(method.name)
        if key is not None:
            *path, name = key.split(".")
            holders = [case.base, case.request]
            for step in path:
                holders = [getattr(holder, step) for holder in holders]
            if getattr(holders[0], name) == getattr(holders[1], name):
                self.nonce += 1
                for holder in holders:
                    setattr(holder, name, f"fz-{self.nonce:08x}")
        if isinstance(case.request, batch_pb2.SubmitBatchRequest):
            assert isinstance(case.base, batch_pb2.SubmitBatchRequest)
            # Each item key, too: a key used before links the item to that check.
            for sent, drawn in zip(case.request.items, case.base.items, strict=False):
                if sent.item_key == drawn.item_key:
                    self.nonce += 1
                    sent.item_key = drawn.item_key = f"fz-{self.nonce:08x}"
        if method.name != "RevokeConsent":
            return
        assert self.app.consents is not None
        assert isinstance(case.base, consent_pb2.RevokeConsentRequest)
        number = case.base.number
        h = zlib.crc32(number.encode())
        applicant = resident_id.make(
            "370305", date(1950, 1, 1) + timedelta(days=h % 15_000), 900 + h % 50
        )
        # Registered already when the number itself is the changed field (and drawn before).
        with contextlib.suppress(FailedPrecondition):
            await self.app.consents.register(
                CALLER_A, consent_draft(number, [(applicant, Relation.APPLICANT)], region="370305")
            )

    # ---------------------------------------------------------------- the call
    def metadata(self, case: Case) -> tuple[tuple[str, str], ...]:
        """Who the call is from, as metadata (a federation peer is its certificate)."""
        system, user, role = CALLERS[case.who]
        return (("x-hedui-system", system), ("x-hedui-user", user), ("x-hedui-role", role))

    async def invoke(self, method: MethodDescriptor, case: Case) -> Outcome:
        md = self.metadata(case)
        path = f"/{method.containing_service.full_name}/{method.name}"
        out_cls = message_class(method.output_type)
        wire = case.wire
        kw: dict[str, Any] = {
            "request_serializer": lambda m: m.SerializeToString() if wire is None else wire,
            "response_deserializer": out_cls.FromString,
        }
        try:
            if method.client_streaming:
                requests = iter([case.request])
                if method.server_streaming:
                    responses = [
                        r
                        async for r in self.channel.stream_stream(path, **kw)(
                            requests, metadata=md, timeout=CALL_TIMEOUT
                        )
                    ]
                else:
                    responses = [
                        await self.channel.stream_unary(path, **kw)(
                            requests, metadata=md, timeout=CALL_TIMEOUT
                        )
                    ]
            elif method.server_streaming:
                call = self.channel.unary_stream(path, **kw)(
                    case.request, metadata=md, timeout=CALL_TIMEOUT
                )
                responses = [r async for r in call]
            else:
                responses = [
                    await self.channel.unary_unary(path, **kw)(
                        case.request, metadata=md, timeout=CALL_TIMEOUT
                    )
                ]
        except grpc.aio.AioRpcError as err:
            rich = None
            for key, value in err.trailing_metadata() or ():
                if key == "grpc-status-details-bin" and isinstance(value, bytes):
                    rich = status_pb2.Status.FromString(value)
            return Outcome(err.code(), err.details() or "", rich)
        return Outcome(Code.OK, responses=list(responses))

    async def check(self, method: MethodDescriptor, case: Case) -> None:
        await self.prepare(method, case)
        before = await self.snapshot()
        with structlog.testing.capture_logs() as logs:
            outcome = await self.invoke(method, case)
            stuck = await settle()
        after = await self.snapshot()
        grew = after.audit_size != before.audit_size
        written = await self.entries_since(before.audit_size) if grew else []
        self.stats[f"{case.kind} {outcome.code.name}"] += 1
        for batch in batches(outcome):
            self.accepted_items += batch.item_count - len(batch.refusals)
        findings = judge(method, case, outcome, before, after, written, logs, stuck)
        if not findings:
            return
        key = findings[0].key(method)
        lines = [f"{f.rule} at {f.where}: {f.detail}" for f in findings]
        more = f"\n… and {len(lines) - 6} more" if len(lines) > 6 else ""
        text = (
            "\n".join(lines[:6])
            + more
            + f"\nstatus {outcome.code.name}: {describe(outcome.details)}"
        )
        if SHRINK:
            raise failure_kind(key)(text)
        shown = repr(case)
        shown = shown if len(shown) <= 1500 else shown[:1500] + " …"
        self.found.setdefault(key, f"{text}\n{shown}")
