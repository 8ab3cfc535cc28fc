"""AlertService over gRPC: translate, call the use case, translate back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from hedui.v1 import alerts_pb2 as pb
from hedui.v1 import alerts_pb2_grpc

from verifier.api.alerts_translate import (
    alert_pb,
    changes_pb,
    check_list_changes,
    filter_from_pb,
    resolution_from_pb,
    warning_from_pb,
)
from verifier.api.fields import report_version
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.ports import Caller
from verifier.service.monitoring.alerts import AlertService

Identify = Callable[[grpc.aio.ServicerContext[Any, Any]], Caller]


class AlertServicer(alerts_pb2_grpc.AlertServiceServicer):
    def __init__(self, service: AlertService, identify: Identify) -> None:
        self._service = service
        self._identify = identify

    async def ListAlerts(
        self, request: pb.ListAlertsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListAlertsResponse:
        caller = self._identify(context)
        flt = filter_from_pb(request)
        page = await self._service.list_alerts(
            caller, flt, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListAlertsResponse(
            alerts=[alert_pb(v) for v in page.alerts], next_page_token=page.next_page_token
        )

    async def GetAlert(
        self, request: pb.GetAlertRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetAlertResponse:
        caller = self._identify(context)
        return pb.GetAlertResponse(
            alert=alert_pb(await self._service.get(caller, request.alert_id))
        )

    async def AcknowledgeAlert(
        self, request: pb.AcknowledgeAlertRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.AcknowledgeAlertResponse:
        caller = self._identify(context)
        view = await self._service.acknowledge(
            caller, request.alert_id, owner=request.owner, note=request.note
        )
        return pb.AcknowledgeAlertResponse(alert=alert_pb(view))

    async def AssignAlert(
        self, request: pb.AssignAlertRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.AssignAlertResponse:
        caller = self._identify(context)
        view = await self._service.assign(caller, request.alert_id, request.owner, request.note)
        return pb.AssignAlertResponse(alert=alert_pb(view))

    async def ResolveAlert(
        self, request: pb.ResolveAlertRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ResolveAlertResponse:
        caller = self._identify(context)
        resolution, program = resolution_from_pb(request)
        view = await self._service.resolve(
            caller, request.alert_id, resolution, program, request.note
        )
        return pb.ResolveAlertResponse(alert=alert_pb(view))

    async def ImportWarnings(
        self, request: pb.ImportWarningsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ImportWarningsResponse:
        caller = self._identify(context)
        rows = self._service.check_warnings([warning_from_pb(w) for w in request.warnings])
        result = await self._service.import_warnings(
            caller, rows, validate_only=request.validate_only
        )
        return pb.ImportWarningsResponse(
            alerts_raised=result.alerts,
            outreach_entries=result.outreach,
            already_imported=result.known,
            alert_ids=list(result.alert_ids),
        )

    async def GetChanges(
        self, request: pb.GetChangesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetChangesResponse:
        caller = self._identify(context)
        out: list[FieldViolation] = []
        version = report_version(request, out)
        if out:
            raise InvalidArgument(out)
        found = await self._service.get_changes(caller, request.verification_id, version)
        return pb.GetChangesResponse(changes=changes_pb(found))

    async def ListChanges(
        self, request: pb.ListChangesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListChangesResponse:
        caller = self._identify(context)
        check_list_changes(request)
        page = await self._service.list_changes(
            caller,
            household_ref=request.household_ref,
            verification_id=request.verification_id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListChangesResponse(
            changes=[changes_pb(c) for c in page.changes], next_page_token=page.next_page_token
        )
