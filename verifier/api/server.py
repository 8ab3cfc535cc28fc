"""The grpc.aio server: our services, health, reflection, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_reflection.v1alpha import reflection_pb2 as reflection_v1alpha
from hedui.v1 import (
    alerts_pb2,
    alerts_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    batch_pb2,
    batch_pb2_grpc,
    consent_pb2,
    consent_pb2_grpc,
    federation_pb2,
    federation_pb2_grpc,
    keys_pb2,
    keys_pb2_grpc,
    roster_pb2,
    roster_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)

from verifier.api.access import AccessInterceptor
from verifier.api.alerts_servicer import AlertServicer
from verifier.api.audit_servicer import AuditServicer
from verifier.api.batch_servicer import BatchServicer
from verifier.api.consent_servicer import ConsentServicer
from verifier.api.errors import ErrorInterceptor
from verifier.api.federation_servicer import FederationServicer
from verifier.api.identity import identify
from verifier.api.roster_servicer import RosterServicer
from verifier.api.servicers import KeyServicer, VerificationServicer
from verifier.config import Principal
from verifier.observability.metrics import Metrics
from verifier.service.auditing import AuditService
from verifier.service.batches import BatchService
from verifier.service.consents import ConsentService
from verifier.service.listing import VerificationListing
from verifier.service.monitoring.alerts import AlertService
from verifier.service.roster.entries import RosterService
from verifier.service.verifications import VerificationService

log = structlog.get_logger("hedui.server")

SERVICES = (
    verification_pb2.DESCRIPTOR.services_by_name["VerificationService"].full_name,
    keys_pb2.DESCRIPTOR.services_by_name["KeyService"].full_name,
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    consent_pb2.DESCRIPTOR.services_by_name["ConsentService"].full_name,
    batch_pb2.DESCRIPTOR.services_by_name["BatchService"].full_name,
    alerts_pb2.DESCRIPTOR.services_by_name["AlertService"].full_name,
    roster_pb2.DESCRIPTOR.services_by_name["RosterService"].full_name,
)
# Served (and listed by reflection) only where federation is configured.
FEDERATION_SERVICE = federation_pb2.DESCRIPTOR.services_by_name["FederationService"].full_name


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: Any
    _watchdog: asyncio.Task[None]

    async def stop(self, grace: float = 5.0) -> None:
        self._watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watchdog
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


Probe = Callable[[], Awaitable[None]]


REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


def _enable_reflection(services: tuple[str, ...], server: grpc.aio.Server) -> None:
    """Server reflection as grpc.reflection.v1 (what grpcurl and current clients ask for
    first) and v1alpha (older clients). grpcio-reflection serves only v1alpha; v1's
    messages are v1alpha's byte for byte under another package name, so one servicer
    answers both."""
    names = (*services, reflection.SERVICE_NAME, REFLECTION_V1)
    servicer = reflection.aio.ReflectionServicer(names)
    for service in (reflection.SERVICE_NAME, REFLECTION_V1):
        handlers = {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_v1alpha.ServerReflectionRequest.FromString,
                response_serializer=reflection_v1alpha.ServerReflectionResponse.SerializeToString,
            )
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))


async def _check_health(probe: Probe, servicer: Any, serving: bool | None) -> bool:
    try:
        await probe()
        ok = True
    except Exception as exc:
        ok = False
        if serving is not False:
            log.warning("health_probe_failed", error=type(exc).__name__)
    if ok is not serving:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ok
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *SERVICES):
            await servicer.set(name, status)
        log.info("health_changed", serving=ok)
    return ok


async def _wait(wake: asyncio.Event, interval: float) -> None:
    """``interval`` seconds, or less when a storage failure sets ``wake``."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), interval)
    wake.clear()


async def _watch_health(
    probe: Probe,
    servicer: Any,
    interval: float,
    serving: bool,
    wake: asyncio.Event,
    recovered: Callable[[], Awaitable[int]],
) -> None:
    """Fail closed: while the audit log cannot be written, health says NOT_SERVING.

    The probe runs every ``interval`` seconds and at once when a request or a run meets
    a storage failure (``wake``). While it succeeds, runs a storage failure stopped are
    handed back to be resumed (``recovered``) instead of waiting out their leases."""
    while True:
        await _wait(wake, interval)
        serving = await _check_health(probe, servicer, serving)
        if serving:
            try:
                await recovered()
            except Exception as exc:
                # Kept for the next round; the store failed again in between.
                log.warning("interrupted_runs_not_released", error=type(exc).__name__)


async def start_server(
    service: VerificationService,
    listen: str,
    *,
    principals: Mapping[str, Principal],
    jwks: Callable[[], str],
    probe: Probe,
    credentials: grpc.ServerCredentials | None = None,
    health_interval: float = 2.0,
    auditing: AuditService | None = None,
    consents: ConsentService | None = None,
    listing: VerificationListing | None = None,
    batches: BatchService | None = None,
    alerts: AlertService | None = None,
    roster: RosterService | None = None,
    metrics: Metrics | None = None,
    federation: FederationServicer | None = None,
) -> RunningServer:
    wake = service.store_trouble
    server = grpc.aio.server(
        # The access interceptor first: it sees the status the error interceptor chose.
        interceptors=[
            AccessInterceptor(metrics),
            ErrorInterceptor((*SERVICES, FEDERATION_SERVICE), on_store_failure=wake.set),
        ],
        options=[
            ("grpc.max_receive_message_length", 4 * 1024 * 1024),
            # `hedui serve --workers N` binds N servers to one port; the kernel spreads
            # connections across them. gRPC's default on Linux, stated so it stays.
            ("grpc.so_reuseport", 1),
        ],
    )
    plaintext = credentials is None

    def who(context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        return identify(context, principals, allow_metadata_system=plaintext)

    verification_pb2_grpc.add_VerificationServiceServicer_to_server(
        VerificationServicer(service, who, listing), server
    )
    keys_pb2_grpc.add_KeyServiceServicer_to_server(KeyServicer(jwks), server)
    if consents is not None:
        consent_pb2_grpc.add_ConsentServiceServicer_to_server(
            ConsentServicer(consents, who), server
        )
    if auditing is not None:
        audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(auditing, who), server)
    if alerts is not None:
        alerts_pb2_grpc.add_AlertServiceServicer_to_server(AlertServicer(alerts, who), server)
    if roster is not None:
        roster_pb2_grpc.add_RosterServiceServicer_to_server(RosterServicer(roster, who), server)
    if batches is not None:
        batch_pb2_grpc.add_BatchServiceServicer_to_server(BatchServicer(batches, who), server)
    if federation is not None:
        federation_pb2_grpc.add_FederationServiceServicer_to_server(federation, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    served = (*SERVICES, *((FEDERATION_SERVICE,) if federation is not None else ()))
    _enable_reflection((*served, health_name), server)
    # Probed before the port is added: gRPC listens as soon as it is, and under
    # `serve --workers` a listening socket joins the port's SO_REUSEPORT group, where the
    # kernel queues connections for it that nothing accepts until start().
    serving = await _check_health(probe, health_servicer, None)
    port = (
        server.add_insecure_port(listen)
        if credentials is None
        else server.add_secure_port(listen, credentials)
    )
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    watchdog = asyncio.create_task(
        _watch_health(
            probe, health_servicer, health_interval, serving, wake, service.store_recovered
        )
    )
    log.info("server_started", port=port, tls=not plaintext)
    return RunningServer(server, port, health_servicer, watchdog)
