"""The grpc.aio server: our services, health, reflection, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hedui.v1 import keys_pb2, keys_pb2_grpc, verification_pb2, verification_pb2_grpc
from verifier.api.errors import ErrorInterceptor
from verifier.api.identity import identify
from verifier.api.servicers import KeyServicer, VerificationServicer
from verifier.bootstrap import App
from verifier.signing.jwks import dumps_jwks

log = structlog.get_logger("hedui.server")

SERVICES = (
    verification_pb2.DESCRIPTOR.services_by_name["VerificationService"].full_name,
    keys_pb2.DESCRIPTOR.services_by_name["KeyService"].full_name,
)


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


async def _watch_health(app: App, servicer: Any, interval: float) -> None:
    """Fail closed: while the audit log cannot be written, health says NOT_SERVING."""
    serving: bool | None = None
    while True:
        try:
            await app.store.ping()
            ok = True
        except Exception:  # noqa: BLE001 — any failure to reach the store means not serving
            ok = False
        if ok is not serving:
            status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
            for name in ("", *SERVICES):
                await servicer.set(name, status)
            log.info("health_changed", serving=ok)
            serving = ok
        await asyncio.sleep(interval)


async def start_server(
    app: App,
    listen: str,
    *,
    credentials: grpc.ServerCredentials | None = None,
    health_interval: float = 2.0,
) -> RunningServer:
    server = grpc.aio.server(
        interceptors=[ErrorInterceptor(SERVICES)],
        options=[("grpc.max_receive_message_length", 4 * 1024 * 1024)],
    )
    principals = app.config.principals
    plaintext = credentials is None

    def who(context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        return identify(context, principals, allow_metadata_system=plaintext)

    verification_pb2_grpc.add_VerificationServiceServicer_to_server(
        VerificationServicer(app.service, who), server
    )
    keys_pb2_grpc.add_KeyServiceServicer_to_server(
        KeyServicer(lambda: dumps_jwks(app.keys.public_keys("signing"))), server
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    port = (
        server.add_insecure_port(listen) if credentials is None else server.add_secure_port(listen, credentials)
    )
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    watchdog = asyncio.create_task(_watch_health(app, health_servicer, health_interval))
    log.info("server_started", port=port, tls=not plaintext)
    return RunningServer(server, port, health_servicer, watchdog)
