"""A hedui server serving on loopback for API tests: a client per caller, SQL for asserts."""

from __future__ import annotations

from typing import Any, Self

from sqlalchemy import text

from tests.helpers import SYSTEM
from verifier.api.client import Client
from verifier.api.server import RunningServer
from verifier.bootstrap import App, serve_app
from verifier.storage.uow import SqlStore


class ServedStack:
    """An app and the gRPC server serving it; :meth:`close` stops both."""

    def __init__(self, app: App, server: RunningServer) -> None:
        self.app = app
        self.server = server
        self.target = f"127.0.0.1:{server.port}"

    @classmethod
    async def serve(cls, app: App) -> Self:
        """Serve ``app`` on a free loopback port, with fast health checks."""
        return cls(app, await serve_app(app, "127.0.0.1:0", health_interval=0.05))

    def client(
        self, user: str = "worker-1", role: str = "caseworker", system: str = SYSTEM
    ) -> Client:
        return Client(self.target, user=user, role=role, system=system)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        """The rows ``sql`` reads from the app's database."""
        assert isinstance(self.app.store, SqlStore)
        async with self.app.store.db.read_sessions() as s:
            return list((await s.execute(text(sql), params)).all())

    async def count(self, table: str) -> int:
        return int((await self.rows(f"SELECT count(*) FROM {table}"))[0][0])

    async def close(self) -> None:
        await self.server.stop(0)
        await self.app.aclose()
