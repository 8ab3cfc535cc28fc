"""The BatchService servicer: translate, call the use case, translate back. Identity
comes from the same ``Identify`` callable as the other services; the role checks and
the audit of every call live in the use case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from hedui.v1 import batch_pb2 as pb
from hedui.v1 import batch_pb2_grpc

from verifier.api.batch_translate import batch_pb, items_from_pb
from verifier.api.servicers import Identify
from verifier.domain import identifiers as ids
from verifier.domain.batches import BATCH_ID
from verifier.service.batches import BatchService


class BatchServicer(batch_pb2_grpc.BatchServiceServicer):
    def __init__(self, service: BatchService, identify: Identify) -> None:
        self._service = service
        self._identify = identify

    async def SubmitBatch(  # noqa: N802 - the name is the RPC's
        self, request: pb.SubmitBatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SubmitBatchResponse:
        caller = self._identify(context)
        view = await self._service.submit(caller, request.request_id, items_from_pb(request))
        return pb.SubmitBatchResponse(batch=batch_pb(view))

    async def GetBatch(  # noqa: N802
        self, request: pb.GetBatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetBatchResponse:
        caller = self._identify(context)
        ids.require(BATCH_ID, request.batch_id, "batch_id")
        return pb.GetBatchResponse(
            batch=batch_pb(await self._service.get(caller, request.batch_id))
        )

    async def WatchBatch(  # noqa: N802
        self, request: pb.WatchBatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchBatchResponse]:
        caller = self._identify(context)
        ids.require(BATCH_ID, request.batch_id, "batch_id")
        async for view in self._service.watch(caller, request.batch_id):
            yield pb.WatchBatchResponse(batch=batch_pb(view))

    async def CancelBatch(  # noqa: N802
        self, request: pb.CancelBatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CancelBatchResponse:
        caller = self._identify(context)
        ids.require(BATCH_ID, request.batch_id, "batch_id")
        view, cancelled = await self._service.cancel(caller, request.batch_id)
        return pb.CancelBatchResponse(batch=batch_pb(view), cancelled=cancelled)
