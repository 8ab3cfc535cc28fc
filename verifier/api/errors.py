"""Domain errors → canonical gRPC codes with google.rpc.Status details.

Wraps every handler (unary and server-streaming) of our services: a request whose bytes
do not parse is INVALID_ARGUMENT naming the field at fault; a domain error becomes its
status; a failure of the database (unreachable, full, read-only, a session a failed flush
left unusable) is UNAVAILABLE with a google.rpc.RetryInfo and the reason
STORE_UNAVAILABLE, never INTERNAL; anything else unexpected becomes INTERNAL with no
detail but the request id. Failures are logged by type only (exception texts can carry
data we must not log).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from verifier.api.access import request_id_of
from verifier.api.undecodable import Undecodable, tolerant
from verifier.domain.errors import (
    Conflict,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ReportPurged,
    ResourceExhausted,
    StoreUnavailable,
    Unauthenticated,
    Unavailable,
    is_store_failure,
)

log = structlog.get_logger("hedui.api")
DOMAIN = "hedui.gov.cn"
# ErrorReason (common.proto) of a refusal by the database; RetryInfo's default delay.
STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
RETRY_AFTER_S = 2.0


def _pack(msg: Any) -> any_pb2.Any:
    a = any_pb2.Any()
    a.Pack(msg)
    return a


# The status travels in trailing metadata, which clients cap (8 KiB by default): a
# request with a thousand bad entries would otherwise be answered RESOURCE_EXHAUSTED by
# the client's own library instead of INVALID_ARGUMENT.
MAX_VIOLATIONS = 16
_MAX_FIELD = 120
_MAX_DESCRIPTION = 200


def status_for(exc: DomainError) -> status_pb2.Status:
    if isinstance(exc, InvalidArgument):
        shown = [
            (v.field[:_MAX_FIELD], v.description[:_MAX_DESCRIPTION])
            for v in exc.violations[:MAX_VIOLATIONS]
        ]
        br = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                for f, d in shown
            ]
        )
        message = "; ".join(f"{f}: {d}" for f, d in shown)
        if len(exc.violations) > MAX_VIOLATIONS:
            message += f"; and {len(exc.violations) - MAX_VIOLATIONS} more"
        return status_pb2.Status(
            code=code_pb2.INVALID_ARGUMENT, message=message, details=[_pack(br)]
        )
    if isinstance(exc, ResourceExhausted):
        info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN)
        return status_pb2.Status(
            code=code_pb2.RESOURCE_EXHAUSTED, message=str(exc), details=[_pack(info)]
        )
    if isinstance(exc, ReportPurged):
        info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN)
        return status_pb2.Status(
            code=code_pb2.FAILED_PRECONDITION, message=str(exc), details=[_pack(info)]
        )
    if isinstance(exc, PermissionDenied):
        info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN)
        return status_pb2.Status(
            code=code_pb2.PERMISSION_DENIED, message=str(exc), details=[_pack(info)]
        )
    if isinstance(exc, Unavailable):
        return unavailable_status(
            str(exc),
            exc.retry_after if isinstance(exc, StoreUnavailable) else RETRY_AFTER_S,
            STORE_UNAVAILABLE if isinstance(exc, StoreUnavailable) else None,
        )
    code = {
        Unauthenticated: code_pb2.UNAUTHENTICATED,
        NotFound: code_pb2.NOT_FOUND,
        FailedPrecondition: code_pb2.FAILED_PRECONDITION,
        Unavailable: code_pb2.UNAVAILABLE,
        Conflict: code_pb2.ABORTED,
    }.get(type(exc), code_pb2.INTERNAL)
    return status_pb2.Status(code=code, message=str(exc))


def unavailable_status(message: str, retry_after: float, reason: str | None) -> status_pb2.Status:
    """UNAVAILABLE with a google.rpc.RetryInfo (when to try again) and, for the store,
    an ErrorInfo naming the reason."""
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(int(retry_after * 1e9))
    details = [_pack(error_details_pb2.RetryInfo(retry_delay=delay))]
    if reason is not None:
        details.append(_pack(error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN)))
    return status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message, details=details)


def _store_outage() -> status_pb2.Status:
    # A driver error no repository translated: its text may quote SQL and values, so the
    # caller is told the kind of failure only.
    return unavailable_status(
        "database unavailable; nothing was written, retry later", RETRY_AFTER_S, STORE_UNAVAILABLE
    )


async def _abort(
    context: grpc.aio.ServicerContext[Any, Any],
    exc: BaseException,
    request_id: str,
    on_store_failure: Callable[[], None] | None = None,
) -> None:
    store_failure = is_store_failure(exc)
    if store_failure and on_store_failure is not None:
        on_store_failure()
    if isinstance(exc, DomainError):
        status = status_for(exc)
        log.info("request_refused", code=code_pb2.Code.Name(status.code), error=type(exc).__name__)
    elif store_failure:
        status = _store_outage()
        log.warning("request_refused", code="UNAVAILABLE", error=type(exc).__name__)
    else:
        log.error("request_crashed", error=type(exc).__name__)
        status = status_pb2.Status(
            code=code_pb2.INTERNAL, message=f"internal error; request id {request_id}"
        )
    await context.abort_with_status(rpc_status.to_status(status))


def _request_id(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """The RPC's request id (see :mod:`verifier.api.access`): it goes into every log line
    and back in the trailers, so it is never a newline, never an ID number."""
    return request_id_of(context)


def _parsed(request: Any) -> None:
    if isinstance(request, Undecodable):
        raise InvalidArgument([request.violation])


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Binds a request id to the logs and maps exceptions to statuses."""

    def __init__(
        self, services: tuple[str, ...], on_store_failure: Callable[[], None] | None = None
    ) -> None:
        self._services = services
        # Told of every request the store refused, so health is probed at once.
        self._on_store_failure = on_store_failure

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not any(method.startswith(f"/{s}/") for s in self._services):
            return handler
        if handler.unary_unary:
            inner_uu: Any = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                rid = _request_id(context)
                with structlog.contextvars.bound_contextvars(request_id=rid, method=method):
                    context.set_trailing_metadata((("x-request-id", rid),))
                    try:
                        _parsed(request)
                        return await inner_uu(request, context)
                    except Exception as exc:
                        await _abort(context, exc, rid, self._on_store_failure)
                        raise

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=tolerant(handler.request_deserializer, method),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            inner_us: Any = handler.unary_stream

            async def stream(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                rid = _request_id(context)
                with structlog.contextvars.bound_contextvars(request_id=rid, method=method):
                    try:
                        _parsed(request)
                        async for item in inner_us(request, context):
                            yield item
                    except Exception as exc:
                        await _abort(context, exc, rid, self._on_store_failure)
                        raise

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=tolerant(handler.request_deserializer, method),
                response_serializer=handler.response_serializer,
            )
        return handler
