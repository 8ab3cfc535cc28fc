"""The AuditService servicer: auditors' queries, exports, checkpoints, proofs and receipts.

Identity comes from the same ``Identify`` callable as the verification API; the role
check and the audit of every call (allowed or refused) live in the use case.

Every field is checked here, before the use case records the call: a refused request
writes nothing. Seqs and tree sizes are bounded by 2^53-1 (audit bodies are RFC 8785
JSON), timestamps by google.protobuf.Timestamp's range, strings by the formats in
:mod:`verifier.domain.identifiers`. For an auditor, positions are also checked against
the log as it is now (it only grows); for anyone else that check is left out, so the
refusal they get (PERMISSION_DENIED, audited) does not tell them the log's size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
from hedui.v1 import audit_pb2 as pb
from hedui.v1 import audit_pb2_grpc, common_pb2

from audit.checkpoint import StoredCheckpoint
from audit.entry import canonical
from verifier.api.fields import report_version
from verifier.api.servicers import Identify
from verifier.api.translate import ID_TYPES, check_timestamp
from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.ports import Caller
from verifier.domain.vocabulary import AuditAction
from verifier.service.auditing import AUDITOR, AuditService, EntryFilter

_STREAM_CHUNK = 100
_EXPORT_CHUNK = 64 * 1024


def _checkpoint_pb(cp: StoredCheckpoint | None) -> pb.Checkpoint | None:
    if cp is None:
        return None
    return pb.Checkpoint(note=cp.note, tree_size=cp.size, root_hash=cp.root)


def _seq(value: int, field: str, out: list[FieldViolation]) -> None:
    ids.check_range(value, field, 0, ids.SAFE_INTEGER_MAX, out)


def _raise(out: list[FieldViolation]) -> None:
    if out:
        raise InvalidArgument(out)


def audit_action(value: int, field: str, out: list[FieldViolation]) -> str:
    """The proto AuditAction as the log's action name ("" for unspecified), by name: the
    numbers are the proto's own, the names are :class:`AuditAction`'s."""
    if value == common_pb2.AUDIT_ACTION_UNSPECIFIED:
        return ""
    number = common_pb2.AuditAction.ValueType(value)
    name = common_pb2.AuditAction.Name(number) if value in _ACTION_NUMBERS else ""
    action = AuditAction.__members__.get(name.removeprefix("AUDIT_ACTION_"))
    if action is None:
        out.append(FieldViolation(field, "must be an AuditAction value"))
        return ""
    return action.value


_ACTION_NUMBERS = frozenset(common_pb2.AuditAction.values())


def _filter(request: pb.QueryEntriesRequest) -> EntryFilter:
    out: list[FieldViolation] = []
    action = audit_action(request.action, "action", out)
    given = None
    if request.HasField("subject"):
        given = (ID_TYPES.get(request.subject.id_type), request.subject.id_number)
    ids.check_entry_filter(
        out,
        today=datetime.now(UTC).date(),
        subject=given,
        actor_system=request.actor_system,
        actor_user=request.actor_user,
        case_id=request.case_id,
        verification_id=request.verification_id,
        action=action,
    )
    subject = None
    if given is not None and given[0] is not None:
        subject = (given[0], given[1].upper())
    for name in ("start_time", "end_time"):
        if request.HasField(name):
            check_timestamp(getattr(request, name), name, out)
    ids.check_range(request.page_size, "page_size", 0, ids.PAGE_SIZE_MAX, out)
    ids.check_page_token(request.page_token, "page_token", out)
    _raise(out)
    return EntryFilter(
        subject=subject,
        actor_system=request.actor_system,
        actor_user=request.actor_user,
        case_id=request.case_id,
        verification_id=request.verification_id,
        action=action,
        since=request.start_time.ToDatetime(tzinfo=UTC) if request.HasField("start_time") else None,
        until=request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else None,
    )


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, service: AuditService, identify: Identify) -> None:
        self._service = service
        self._identify = identify

    async def _within_log(self, caller: Caller, checks: list[tuple[str, int, int]]) -> None:
        """Refuse positions beyond the log (``(field, value, at_most_beyond)``) before the
        use case records the call — only for auditors, see the module docstring."""
        if caller.role != AUDITOR or not any(value for _, value, _ in checks):
            return
        size = await self._service.size()
        out = [
            FieldViolation(field, "is beyond the log")
            for field, value, slack in checks
            if value > size - 1 + slack
        ]
        _raise(out)

    async def QueryEntries(
        self, request: pb.QueryEntriesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.QueryEntriesResponse]:
        caller = self._identify(context)
        flt = _filter(request)
        page = await self._service.query(
            caller, flt, page_size=request.page_size, page_token=request.page_token
        )
        entries = [
            pb.AuditEntry(seq=e.seq, body=e.body, leaf_hash=e.leaf_hash) for e in page.entries
        ]
        for i in range(0, max(len(entries), 1), _STREAM_CHUNK):
            last = i + _STREAM_CHUNK >= len(entries)
            yield pb.QueryEntriesResponse(
                entries=entries[i : i + _STREAM_CHUNK],
                next_page_token=page.next_page_token if last else "",
            )

    async def ExportEntries(
        self, request: pb.ExportEntriesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.ExportEntriesResponse]:
        caller = self._identify(context)
        out: list[FieldViolation] = []
        _seq(request.start_seq, "start_seq", out)
        # Unset is "up to the log's end" (0 for the use case); a set end must be after start.
        end = request.end_seq if request.HasField("end_seq") else 0
        if request.HasField("end_seq"):
            _seq(end, "end_seq", out)
            if not out and end <= request.start_seq:
                out.append(FieldViolation("end_seq", "must be more than start_seq"))
        _raise(out)
        await self._within_log(caller, [("start_seq", request.start_seq, 1), ("end_seq", end, 1)])
        buf = bytearray()
        async for line in await self._service.export(caller, request.start_seq, end):
            buf += line
            if len(buf) >= _EXPORT_CHUNK:
                yield pb.ExportEntriesResponse(chunk=bytes(buf))
                buf.clear()
        if buf:
            yield pb.ExportEntriesResponse(chunk=bytes(buf))

    async def GetCheckpoint(
        self, request: pb.GetCheckpointRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetCheckpointResponse:
        caller = self._identify(context)
        cp = await self._service.latest_checkpoint(caller)
        return pb.GetCheckpointResponse(
            checkpoint=_checkpoint_pb(cp), verifier_key=self._service.verifier_key
        )

    async def CreateCheckpoint(
        self, request: pb.CreateCheckpointRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CreateCheckpointResponse:
        caller = self._identify(context)
        cp = await self._service.checkpoint(caller, fresh=True)
        return pb.CreateCheckpointResponse(
            checkpoint=_checkpoint_pb(cp), verifier_key=self._service.verifier_key
        )

    async def ProveInclusion(
        self, request: pb.ProveInclusionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ProveInclusionResponse:
        caller = self._identify(context)
        out: list[FieldViolation] = []
        _seq(request.seq, "seq", out)
        # Unset is "against a covering checkpoint" (0 for the use case).
        size = request.tree_size if request.HasField("tree_size") else 0
        if request.HasField("tree_size"):
            _seq(size, "tree_size", out)
            if not out and request.seq >= size:
                out.append(FieldViolation("seq", "must be inside the tree (less than tree_size)"))
        _raise(out)
        await self._within_log(caller, [("seq", request.seq, 0), ("tree_size", size, 1)])
        p = await self._service.prove_inclusion(caller, request.seq, size)
        return pb.ProveInclusionResponse(
            seq=p.seq,
            tree_size=p.tree_size,
            leaf_hash=p.leaf_hash,
            proof=p.proof,
            body=p.body,
            checkpoint=_checkpoint_pb(p.checkpoint),
        )

    async def ProveConsistency(
        self, request: pb.ProveConsistencyRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ProveConsistencyResponse:
        caller = self._identify(context)
        out: list[FieldViolation] = []
        _seq(request.old_size, "old_size", out)
        # Unset is "a new checkpoint of the log as it is now" (0 for the use case).
        new_size = request.new_size if request.HasField("new_size") else 0
        if request.HasField("new_size"):
            _seq(new_size, "new_size", out)
            if not out and (new_size < 1 or new_size < request.old_size):
                out.append(FieldViolation("new_size", "must be at least 1 and old_size"))
        _raise(out)
        await self._within_log(
            caller, [("old_size", request.old_size, 1), ("new_size", new_size, 1)]
        )
        p = await self._service.prove_consistency(caller, request.old_size, new_size)
        return pb.ProveConsistencyResponse(
            old_size=p.old_size,
            new_size=p.new_size,
            old_root=p.old_root,
            new_root=p.new_root,
            proof=p.proof,
            checkpoint=_checkpoint_pb(p.checkpoint),
        )

    async def GetReceipt(
        self, request: pb.GetReceiptRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetReceiptResponse:
        caller = self._identify(context)
        out: list[FieldViolation] = []
        ids.VERIFICATION_ID.check(request.verification_id, "verification_id", out)
        version = report_version(request, out)
        _raise(out)
        receipt = await self._service.receipt(caller, request.verification_id, version)
        return pb.GetReceiptResponse(receipt_json=canonical(receipt))
