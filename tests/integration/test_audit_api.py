"""AuditService over a real grpc.aio server on both databases: auditor-only access (refusals
audited), queries by subject/actor/case/action/time with pagination, exports, checkpoints,
proofs and receipts that verify offline — and the auditor's reads are audit entries too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from hedui.v1 import audit_pb2 as pb
from hedui.v1 import audit_pb2_grpc, common_pb2
from sqlalchemy import text

from audit.checkpoint import open_checkpoint
from audit.export import ReceiptError, verify_export_lines, verify_receipt
from audit.merkle import verify_consistency, verify_inclusion
from audit.verify import verify_log
from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter
from tests.helpers import (
    APPLICANT_ID,
    CALLER,
    CHILD_ID,
    SPOUSE_ID,
    SYSTEM,
    household_draft,
    make_app,
    soon,
)
from verifier.api.server import RunningServer
from verifier.bootstrap import App, serve_app
from verifier.storage.uow import SqlStore


class Stack:
    def __init__(self, app: App, server: RunningServer, verification_id: str) -> None:
        self.app = app
        self.server = server
        self.verification_id = verification_id
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
        self.stub = audit_pb2_grpc.AuditServiceStub(self.channel)

    def md(self, role: str = "auditor", user: str = "auditor-1") -> tuple[tuple[str, str], ...]:
        return (("x-hedui-system", SYSTEM), ("x-hedui-user", user), ("x-hedui-role", role))

    async def bodies(self, where: str = "1=1") -> list[dict[str, Any]]:
        assert isinstance(self.app.store, SqlStore)
        async with self.app.store.db.read_sessions() as s:
            rows = await s.execute(
                text(f"SELECT body FROM audit_entries WHERE {where} ORDER BY seq")
            )
            return [json.loads(b) for (b,) in rows]

    async def query(self, **kw: Any) -> tuple[list[pb.AuditEntry], str]:
        entries: list[pb.AuditEntry] = []
        token = ""
        async for resp in self.stub.QueryEntries(pb.QueryEntriesRequest(**kw), metadata=self.md()):
            entries.extend(resp.entries)
            token = resp.next_page_token or token
        return entries, token


@pytest.fixture
async def stack(database_url: str, keys_dir: Path) -> AsyncIterator[Stack]:
    adapters = {SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 98_000})}
    app = await make_app(database_url, keys_dir, adapters)
    view = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    server = await serve_app(app, "127.0.0.1:0", health_interval=0.05)
    st = Stack(app, server, view.record.id)
    yield st
    await st.channel.close()
    await server.stop(0)
    await app.aclose()


def subject(number: str) -> pb.SubjectFilter:
    return pb.SubjectFilter(id_type=common_pb2.ID_TYPE_RESIDENT_ID, id_number=number)


@pytest.mark.parametrize("role", ["caseworker", "reviewer"])
async def test_only_auditors_may_call_and_refusals_are_audited(stack: Stack, role: str) -> None:
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: stack.stub.GetCheckpoint(pb.GetCheckpointRequest(), metadata=stack.md(role)),
        lambda: stack.stub.ProveInclusion(pb.ProveInclusionRequest(seq=0), metadata=stack.md(role)),
        lambda: stack.stub.GetReceipt(
            pb.GetReceiptRequest(verification_id=stack.verification_id), metadata=stack.md(role)
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call()
        assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
        status = status_pb2.Status.FromString(
            dict(info.value.trailing_metadata())["grpc-status-details-bin"]
        )
        detail = error_details_pb2.ErrorInfo()
        status.details[0].Unpack(detail)
        assert detail.reason == "ROLE_NOT_ALLOWED"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _query_as(stack, role)
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
    denials = await stack.bodies("action = 'audit_read'")
    assert [(d["outcome"], d["actor"]["role"], d["reason"]) for d in denials] == [
        ("deny", role, "ROLE_NOT_ALLOWED")
    ] * 4


async def _query_as(stack: Stack, role: str) -> None:
    async for _ in stack.stub.QueryEntries(
        pb.QueryEntriesRequest(action=common_pb2.AUDIT_ACTION_RELEASED), metadata=stack.md(role)
    ):
        pass


async def test_query_by_subject_is_audited_without_the_id_number(stack: Stack) -> None:
    entries, token = await stack.query(subject=subject(SPOUSE_ID))
    assert token == ""
    actions = [json.loads(e.body)["action"] for e in entries]
    # authorize, access_intent and released name the household's members; then our own read.
    assert {"authorize", "access_intent", "released"} <= set(actions)
    assert actions[-1] == "audit_read"
    read = json.loads(entries[-1].body)
    assert read["details"]["filters"] == ["subject"] and read["subject_refs"]
    assert set(read["subject_refs"]) <= set(json.loads(entries[0].body)["subject_refs"])
    everything = json.dumps(await stack.bodies())
    for number in (APPLICANT_ID, SPOUSE_ID, CHILD_ID):
        assert number not in everything


async def test_filters_and_pages(stack: Stack) -> None:
    all_released, _ = await stack.query(action=common_pb2.AUDIT_ACTION_RELEASED)
    assert len(all_released) == 1
    assert json.loads(all_released[0].body)["verification_id"] == stack.verification_id
    by_case, _ = await stack.query(case_id="CASE-1", actor_system=SYSTEM, actor_user="worker-1")
    assert {json.loads(e.body)["case_id"] for e in by_case} == {"CASE-1"}
    future = Timestamp()
    future.FromDatetime(datetime.now(UTC) + timedelta(days=1))
    none, _ = await stack.query(start_time=future)
    assert none == []
    seen: list[int] = []
    token = ""
    while True:
        page, token = await stack.query(page_size=2, page_token=token, actor_user="worker-1")
        assert len(page) <= 2
        seen.extend(e.seq for e in page)
        if not token:
            break
    rows = await stack.bodies("actor_user = 'worker-1'")
    assert seen == [r["seq"] for r in rows]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.query(page_token="not-a-token")
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_export_verifies_offline_and_tampering_is_refused(stack: Stack) -> None:
    chunks = [
        r.chunk
        async for r in stack.stub.ExportEntries(
            pb.ExportEntriesRequest(start_seq=1), metadata=stack.md()
        )
    ]
    lines = b"".join(chunks).splitlines()
    key = stack.app.auditing.verifier_key if stack.app.auditing else ""
    report = verify_export_lines(lines, key)
    assert report.ok, report.problem
    assert report.entries == len(lines) - 1 and report.start_seq == 1
    doc = json.loads(lines[2])
    doc["body"]["outcome"] = "deny"
    tampered = [*lines[:2], json.dumps(doc).encode(), *lines[3:]]
    bad = verify_export_lines(tampered, key)
    assert (bad.ok, bad.first_bad_seq) == (False, 2)
    dropped = verify_export_lines([*lines[:2], *lines[3:]], key)
    assert (dropped.ok, dropped.first_bad_seq) == (False, 2)
    truncated = verify_export_lines(lines[:-1], key)
    assert not truncated.ok and "stops" in truncated.problem
    exports = await stack.bodies("action = 'audit_read'")
    assert exports[0]["details"] == {"kind": "export", "start_seq": 1, "end_seq": 0}


async def test_checkpoint_and_proofs_verify(stack: Stack) -> None:
    resp = await stack.stub.CreateCheckpoint(pb.CreateCheckpointRequest(), metadata=stack.md())
    cp = open_checkpoint(resp.checkpoint.note, resp.verifier_key)
    assert cp.size == resp.checkpoint.tree_size > 0
    inc = await stack.stub.ProveInclusion(pb.ProveInclusionRequest(seq=1), metadata=stack.md())
    assert inc.checkpoint.tree_size >= 2
    covering = open_checkpoint(inc.checkpoint.note, resp.verifier_key)
    verify_inclusion(inc.leaf_hash, 1, covering.size, list(inc.proof), covering.root_hash)
    cons = await stack.stub.ProveConsistency(
        pb.ProveConsistencyRequest(old_size=cp.size), metadata=stack.md()
    )
    newer = open_checkpoint(cons.checkpoint.note, resp.verifier_key)
    verify_consistency(cp.size, newer.size, cp.root_hash, newer.root_hash, list(cons.proof))
    assert newer.size > cp.size  # the auditor's own reads were appended meanwhile
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.stub.ProveInclusion(pb.ProveInclusionRequest(seq=10**6), metadata=stack.md())
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_receipt_round_trip_and_tampered_envelope(stack: Stack) -> None:
    resp = await stack.stub.GetReceipt(
        pb.GetReceiptRequest(verification_id=stack.verification_id), metadata=stack.md()
    )
    report = await stack.app.service.get_report(CALLER, stack.verification_id, 0)
    key = stack.app.auditing.verifier_key if stack.app.auditing else ""
    verified = verify_receipt(resp.receipt_json, key, report.envelope)
    assert verified.body["action"] == "released" and verified.seq == report.release_seq
    with pytest.raises(ReceiptError, match="not the one"):
        verify_receipt(resp.receipt_json, key, report.envelope + b" ")
    doc = json.loads(resp.receipt_json)
    doc["body"]["details"]["envelope_sha256"] = "0" * 64
    with pytest.raises(ReceiptError, match="not proven"):
        verify_receipt(doc, key, report.envelope)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.stub.GetReceipt(
            pb.GetReceiptRequest(verification_id="00000000-0000-4000-8000-000000000000"),
            metadata=stack.md(),
        )
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.stub.GetReceipt(
            pb.GetReceiptRequest(verification_id="nope"), metadata=stack.md()
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_the_log_verifies_after_auditor_activity(stack: Stack) -> None:
    await stack.query(action=common_pb2.AUDIT_ACTION_AUTHORIZE)
    await stack.stub.CreateCheckpoint(pb.CreateCheckpointRequest(), metadata=stack.md())
    assert stack.app.auditing is not None
    assert isinstance(stack.app.store, SqlStore)
    async with stack.app.store.db.read_sessions() as s:
        report = await verify_log(s, verifier_keys=stack.app.auditing.checkpointer.verifier_keys)
    assert report.ok and report.checkpoints >= 1, report.problem


async def test_an_export_line_with_a_float_is_refused_not_crashed(stack: Stack) -> None:
    chunks = [
        r.chunk
        async for r in stack.stub.ExportEntries(pb.ExportEntriesRequest(), metadata=stack.md())
    ]
    lines = b"".join(chunks).splitlines()
    doc = json.loads(lines[1])
    doc["body"]["details"] = {"amount": 1.5}
    key = stack.app.auditing.verifier_key if stack.app.auditing else ""
    bad = verify_export_lines([lines[0], json.dumps(doc).encode(), *lines[2:]], key)
    assert (bad.ok, bad.first_bad_seq) == (False, 0) and "canonical" in bad.problem


async def test_get_checkpoint_signs_nothing_and_create_checkpoint_signs_one(stack: Stack) -> None:
    assert stack.app.auditing is not None
    checkpointer = stack.app.auditing.checkpointer
    made = await stack.stub.CreateCheckpoint(pb.CreateCheckpointRequest(), metadata=stack.md())
    assert (await checkpointer.latest()) is not None
    latest = await checkpointer.latest()
    assert latest is not None and latest.size == made.checkpoint.tree_size
    read = await stack.stub.GetCheckpoint(pb.GetCheckpointRequest(), metadata=stack.md())
    # The read is audited (the log grows) but signs no checkpoint of the grown log.
    assert read.checkpoint.note == made.checkpoint.note
    again = await checkpointer.latest()
    assert again is not None and again.size == made.checkpoint.tree_size


async def test_action_filter_is_an_enum_and_unknown_numbers_are_refused(stack: Stack) -> None:
    entries, _ = await stack.query(action=common_pb2.AUDIT_ACTION_AUTHORIZE)
    assert entries and {json.loads(e.body)["action"] for e in entries} == {"authorize"}
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.query(action=999)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_unset_means_latest_and_a_set_zero_is_refused(stack: Stack) -> None:
    vid = stack.verification_id
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.stub.GetReceipt(
            pb.GetReceiptRequest(verification_id=vid, version=0), metadata=stack.md()
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    latest = await stack.stub.GetReceipt(
        pb.GetReceiptRequest(verification_id=vid), metadata=stack.md()
    )
    first = await stack.stub.GetReceipt(
        pb.GetReceiptRequest(verification_id=vid, version=1), metadata=stack.md()
    )
    assert json.loads(latest.receipt_json)["body"] == json.loads(first.receipt_json)["body"]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.stub.ProveInclusion(
            pb.ProveInclusionRequest(seq=0, tree_size=0), metadata=stack.md()
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.stub.ProveConsistency(
            pb.ProveConsistencyRequest(old_size=0, new_size=0), metadata=stack.md()
        )
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in stack.stub.ExportEntries(
            pb.ExportEntriesRequest(start_seq=0, end_seq=0), metadata=stack.md()
        ):
            pass
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
