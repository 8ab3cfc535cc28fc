"""The AuditService servicer: auditors' queries, exports, checkpoints, proofs and receipts.

Identity comes from the same ``Identify`` callable as the verification API; the role
check and the audit of every call (allowed or refused) live in the use case.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

import grpc
from hedui.v1 import audit_pb2 as pb
from hedui.v1 import audit_pb2_grpc, common_pb2

from audit.checkpointer import StoredCheckpoint
from audit.entry import canonical
from verifier.api.servicers import Identify
from verifier.api.translate import ID_TYPES
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.service.auditing import AuditService, EntryFilter

_STREAM_CHUNK = 100
_EXPORT_CHUNK = 64 * 1024


def _checkpoint_pb(cp: StoredCheckpoint | None) -> pb.Checkpoint | None:
    if cp is None:
        return None
    return pb.Checkpoint(note=cp.note, tree_size=cp.size, root_hash=cp.root)


def _filter(request: pb.QueryEntriesRequest) -> EntryFilter:
    subject = None
    if request.HasField("subject"):
        id_type = ID_TYPES.get(request.subject.id_type)
        if id_type is None or request.subject.id_type == common_pb2.ID_TYPE_UNSPECIFIED:
            raise InvalidArgument([FieldViolation("subject.id_type", "must be given")])
        subject = (id_type, request.subject.id_number)
    return EntryFilter(
        subject=subject,
        actor_system=request.actor_system,
        actor_user=request.actor_user,
        case_id=request.case_id,
        verification_id=request.verification_id,
        action=request.action,
        since=request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None,
        until=request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None,
    )


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, service: AuditService, identify: Identify) -> None:
        self._service = service
        self._identify = identify

    async def QueryEntries(
        self, request: pb.QueryEntriesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.QueryEntriesResponse]:
        caller = self._identify(context)
        page = await self._service.query(
            caller, _filter(request), page_size=request.page_size, page_token=request.page_token
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
        buf = bytearray()
        async for line in await self._service.export(caller, request.start_seq, request.end_seq):
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
        cp = await self._service.checkpoint(caller, fresh=request.fresh)
        return pb.GetCheckpointResponse(
            checkpoint=_checkpoint_pb(cp), verifier_key=self._service.verifier_key
        )

    async def ProveInclusion(
        self, request: pb.ProveInclusionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ProveInclusionResponse:
        caller = self._identify(context)
        p = await self._service.prove_inclusion(caller, request.seq, request.tree_size)
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
        p = await self._service.prove_consistency(caller, request.old_size, request.new_size)
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
        if not request.verification_id or len(request.verification_id) > 64:
            raise InvalidArgument([FieldViolation("verification_id", "must be a verification id")])
        if request.version < 0:
            raise InvalidArgument([FieldViolation("version", "must be 0 (latest) or a version")])
        receipt = await self._service.receipt(caller, request.verification_id, request.version)
        return pb.GetReceiptResponse(receipt_json=canonical(receipt))
