"""gRPC servicers: translate, call the use case, translate back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from hedui.v1 import keys_pb2, keys_pb2_grpc, verification_pb2_grpc
from hedui.v1 import verification_pb2 as pb

from verifier.api.fields import report_version
from verifier.api.listing_translate import filter_from_pb, page_pb
from verifier.api.printouts import get_printout
from verifier.api.translate import draft_from_pb, event_pb, report_pb, verification_pb
from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation, InvalidArgument, Unavailable
from verifier.domain.ports import Caller
from verifier.service.listing import VerificationListing
from verifier.service.time_limits import CheckTerms
from verifier.service.verifications import VerificationService

Identify = Callable[[grpc.aio.ServicerContext[Any, Any]], Caller]


def _report_version(request: pb.GetReportRequest) -> int:
    """The version asked for; 0 (the use case's "latest") when unset. A set version
    starts at 1."""
    out: list[FieldViolation] = []
    ids.VERIFICATION_ID.check(request.verification_id, "verification_id", out)
    version = report_version(request, out)
    if out:
        raise InvalidArgument(out)
    return version


class VerificationServicer(verification_pb2_grpc.VerificationServiceServicer):
    def __init__(
        self,
        service: VerificationService,
        identify: Identify,
        listing: VerificationListing | None = None,
    ) -> None:
        self._service = service
        self._identify = identify
        self._listing = listing

    async def CreateVerification(
        self, request: pb.CreateVerificationRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CreateVerificationResponse:
        caller = self._identify(context)
        remaining = context.time_remaining()
        wait_until = None if remaining is None else time.monotonic() + remaining
        view = await self._service.create(
            caller,
            draft_from_pb(request),
            wait=request.wait,
            wait_until=wait_until,
            terms=CheckTerms.interactive(urgent=request.urgent),
        )
        return pb.CreateVerificationResponse(verification=verification_pb(view))

    async def GetVerification(
        self, request: pb.GetVerificationRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetVerificationResponse:
        caller = self._identify(context)
        ids.require(ids.VERIFICATION_ID, request.verification_id, "verification_id")
        view = await self._service.get(caller, request.verification_id)
        return pb.GetVerificationResponse(verification=verification_pb(view))

    async def WatchVerification(
        self, request: pb.WatchVerificationRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchVerificationResponse]:
        caller = self._identify(context)
        ids.require(ids.VERIFICATION_ID, request.verification_id, "verification_id")
        vid = request.verification_id
        async for event in self._service.watch(caller, vid):
            yield event_pb(vid, event)

    async def GetReport(
        self, request: pb.GetReportRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetReportResponse:
        caller = self._identify(context)
        version = _report_version(request)
        report = await self._service.get_report(caller, request.verification_id, version)
        return report_pb(report)

    async def GetPrintout(
        self, request: pb.GetPrintoutRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetPrintoutResponse:
        return await get_printout(self._service, self._identify(context), request)

    async def ListVerifications(
        self, request: pb.ListVerificationsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListVerificationsResponse:
        caller = self._identify(context)
        flt = filter_from_pb(request)
        if self._listing is None:
            raise Unavailable("listing verifications is not set up on this server")
        page = await self._listing.list(
            caller,
            flt,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return page_pb(page)


class KeyServicer(keys_pb2_grpc.KeyServiceServicer):
    def __init__(self, jwks_json: Callable[[], str]) -> None:
        self._jwks = jwks_json

    async def ListKeys(
        self, request: keys_pb2.ListKeysRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> keys_pb2.ListKeysResponse:
        return keys_pb2.ListKeysResponse(jwks_json=self._jwks())
