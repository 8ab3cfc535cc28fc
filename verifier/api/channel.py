"""The connection every client of the API opens: one channel, the caller's metadata."""

from __future__ import annotations

from typing import Self

import grpc

__all__ = ["Connection"]


class Connection:
    """A channel to ``target`` and the metadata sent with every call. ``system`` is sent
    as metadata only on a plaintext development port; with mTLS the server reads it from
    the client certificate."""

    def __init__(
        self,
        target: str,
        *,
        user: str,
        role: str = "caseworker",
        system: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.channel = (
            grpc.aio.secure_channel(target, credentials)
            if credentials
            else grpc.aio.insecure_channel(target)
        )
        md = [("x-hedui-user", user), ("x-hedui-role", role)]
        if system:
            md.append(("x-hedui-system", system))
        self.metadata = tuple(md)
        self._stubs()

    def _stubs(self) -> None:
        """Make a subclass's service stubs on :attr:`channel` (a bare connection has none)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()
