"""RosterService: the recipient roster over gRPC. Outputs mask ID numbers and names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from hedui.v1 import roster_pb2 as pb
from hedui.v1 import roster_pb2_grpc

from verifier.api.roster_translate import (
    entry_draft_from_pb,
    entry_pb,
    filter_from_pb,
    import_response,
)
from verifier.api.translate import capped
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.ports import Caller
from verifier.service.roster.entries import IMPORT_MAX, RosterService

Identify = Callable[[grpc.aio.ServicerContext[Any, Any]], Caller]


class RosterServicer(roster_pb2_grpc.RosterServiceServicer):
    def __init__(self, service: RosterService, identify: Identify) -> None:
        self._service = service
        self._identify = identify

    async def ImportRoster(
        self, request: pb.ImportRosterRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ImportRosterResponse:
        caller = self._identify(context)
        out: list[FieldViolation] = []
        # Refused whole before a million entries are translated one by one.
        entries = capped(request.entries, IMPORT_MAX, "entries", out)
        if out:
            raise InvalidArgument(out)
        result = await self._service.import_entries(
            caller,
            [entry_draft_from_pb(e) for e in entries],
            partial=request.partial,
            validate_only=request.validate_only,
        )
        return import_response(result)

    async def ListRosterEntries(
        self, request: pb.ListRosterEntriesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListRosterEntriesResponse:
        caller = self._identify(context)
        page = await self._service.list_entries(caller, filter_from_pb(request))
        return pb.ListRosterEntriesResponse(
            entries=[entry_pb(v) for v in page.entries], next_page_token=page.next_page_token
        )

    async def GetRosterEntry(
        self, request: pb.GetRosterEntryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetRosterEntryResponse:
        caller = self._identify(context)
        view = await self._service.get(caller, request.household_ref, request.region_code)
        return pb.GetRosterEntryResponse(entry=entry_pb(view, household=True))

    async def RemoveRosterEntry(
        self, request: pb.RemoveRosterEntryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.RemoveRosterEntryResponse:
        caller = self._identify(context)
        view = await self._service.remove(
            caller, request.household_ref, request.region_code, request.reason
        )
        return pb.RemoveRosterEntryResponse(entry=entry_pb(view))

    async def RecheckRosterEntry(
        self, request: pb.RecheckRosterEntryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.RecheckRosterEntryResponse:
        caller = self._identify(context)
        started = await self._service.recheck(
            caller,
            request.household_ref,
            request.region_code,
            request.request_id,
            urgent=request.urgent,
        )
        return pb.RecheckRosterEntryResponse(
            verification_id=started.verification_id,
            check_request_id=started.check_request_id,
            replayed=started.replayed,
            entry=entry_pb(started.view),
        )
