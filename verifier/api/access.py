"""The outermost interceptor: the request id, one access line per RPC, gRPC metrics.

The request id is the caller's ``x-request-id`` metadata when it is a valid request id
(``verifier.domain.identifiers.REQUEST_ID``), else a new one; it is bound to every log
line the RPC writes, returned in the ``x-request-id`` trailer, and quoted by an INTERNAL
error. It is the only thing called a request id in logs and traces; the
``request_id`` field of a CreateVerification or SubmitBatch request is the idempotency
key, logged as nothing.

The access line (``rpc``) names the method, the final status code, the latency in
milliseconds, the request id and, when the call is traced, its ``trace_id``: never a
request's content, so never personal data.
Health checks, which load balancers send every few seconds, are logged at debug level.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import structlog
from opentelemetry import trace

from verifier.domain.identifiers import REQUEST_ID
from verifier.observability.metrics import Metrics

log = structlog.get_logger("hedui.access")

HEALTH_PREFIX = "/grpc.health.v1.Health/"
REQUEST_ID_KEY = "x-request-id"

if TYPE_CHECKING:  # grpc's handler classes are generic only to the type checker
    Continuation = Callable[
        [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
    ]


def request_id_of(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """The request id of the RPC ``context`` serves: the one bound to its logs if the
    access interceptor ran, else the caller's valid ``x-request-id``, else a new one."""
    bound = structlog.contextvars.get_contextvars().get("request_id")
    if isinstance(bound, str):
        return bound
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and REQUEST_ID.problem(value) is None:
            return value
    return uuid.uuid4().hex


def _rpc_type(handler: grpc.RpcMethodHandler[Any, Any]) -> str:
    if handler.request_streaming and handler.response_streaming:
        return "bidi_stream"
    if handler.request_streaming:
        return "client_stream"
    if handler.response_streaming:
        return "server_stream"
    return "unary"


def _final_code(context: grpc.aio.ServicerContext[Any, Any], default: str) -> str:
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else default


# Each kind of handler, how grpc makes one, and whether its responses stream.
_HANDLERS: tuple[tuple[str, Callable[..., grpc.RpcMethodHandler[Any, Any]], bool], ...] = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler, False),
    ("unary_stream", grpc.unary_stream_rpc_method_handler, True),
    ("stream_unary", grpc.stream_unary_rpc_method_handler, False),
    ("stream_stream", grpc.stream_stream_rpc_method_handler, True),
)


class AccessInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every method (ours, health, reflection); ``metrics`` None records none."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._metrics = metrics

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        service, _, name = method.lstrip("/").rpartition("/")
        labels = (_rpc_type(handler), service, name)
        call = _Call(self._metrics, method, labels)
        for kind, make, streams in _HANDLERS:
            behaviour = getattr(handler, kind)
            if behaviour:
                wrapped = call.streaming(behaviour) if streams else call.unary(behaviour)
                return make(
                    wrapped,
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler


class _Call:
    """What one method's wrappers share: its series, the log level."""

    def __init__(self, metrics: Metrics | None, method: str, labels: tuple[str, str, str]):
        self._series = metrics.rpc(labels) if metrics is not None else None
        self._method = method
        self._streaming_in = labels[0] in ("client_stream", "bidi_stream")
        self._log = log.debug if method.startswith(HEALTH_PREFIX) else log.info

    def _started(self) -> None:
        if self._series is not None:
            self._series.started.inc()
            if not self._streaming_in:
                self._series.received.inc()

    def _requests(self, request: Any) -> Any:
        """A client-streamed request iterator that counts what it yields."""
        if not self._streaming_in or self._series is None:
            return request
        received = self._series.received

        async def counted() -> AsyncIterator[Any]:
            async for item in request:
                received.inc()
                yield item

        return counted()

    def _finished(self, code: str, began: float, rid: str) -> None:
        seconds = time.perf_counter() - began
        if self._series is not None:
            self._series.handled(code, seconds)
        fields: dict[str, Any] = {}
        traced = trace.get_current_span().get_span_context()
        if traced.is_valid:
            # The trace of this call ([tracing]): from a log line to its spans.
            fields["trace_id"] = format(traced.trace_id, "032x")
        self._log(
            "rpc", method=self._method, code=code, latency_ms=round(seconds * 1000, 3),
            request_id=rid, **fields,
        )  # fmt: skip

    def unary(self, inner: Any, *, counts_reply: bool = True) -> Any:
        """For a handler that returns its reply, or (``counts_reply`` False) a streaming
        one that writes its messages with ``context.write`` (as grpc's health Watch)."""

        async def wrapper(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            rid = request_id_of(context)
            began = time.perf_counter()
            code = "UNKNOWN"
            with structlog.contextvars.bound_contextvars(request_id=rid):
                self._started()
                try:
                    response = await inner(self._requests(request), context)
                    code = _final_code(context, "OK")
                    if self._series is not None and code == "OK" and counts_reply:
                        self._series.sent.inc()
                    return response
                except asyncio.CancelledError:
                    code = "CANCELLED"
                    raise
                except BaseException:
                    code = _final_code(context, "UNKNOWN")
                    raise
                finally:
                    self._finished(code, began, rid)

        return wrapper

    def streaming(self, inner: Any) -> Any:
        if not inspect.isasyncgenfunction(inner):
            return self.unary(inner, counts_reply=False)

        async def wrapper(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            rid = request_id_of(context)
            began = time.perf_counter()
            code = "UNKNOWN"
            with structlog.contextvars.bound_contextvars(request_id=rid):
                self._started()
                try:
                    async for item in inner(self._requests(request), context):
                        if self._series is not None:
                            self._series.sent.inc()
                        yield item
                    code = _final_code(context, "OK")
                except (asyncio.CancelledError, GeneratorExit):
                    code = "CANCELLED"
                    raise
                except BaseException:
                    code = _final_code(context, "UNKNOWN")
                    raise
                finally:
                    self._finished(code, began, rid)

        return wrapper
