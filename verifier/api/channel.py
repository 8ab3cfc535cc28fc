"""The connection every client of the API opens: one channel, the caller's metadata."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import grpc

__all__ = ["OWN_CONNECTION", "Connection"]

# gRPC shares one TCP connection among all of a process's channels to the same target with
# the same options. A client that wants its channels spread across `serve --workers`
# processes (the kernel spreads connections, not calls) gives each channel this option.
OWN_CONNECTION: tuple[tuple[str, Any], ...] = (("grpc.use_local_subchannel_pool", 1),)


class Connection:
    """A channel to ``target`` and the metadata sent with every call. ``system`` is sent
    as metadata only on a plaintext development port; with mTLS the server reads it from
    the client certificate. ``options`` are gRPC channel arguments, such as
    :data:`OWN_CONNECTION`."""

    def __init__(
        self,
        target: str,
        *,
        user: str,
        role: str = "caseworker",
        system: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self.channel = (
            grpc.aio.secure_channel(target, credentials, options)
            if credentials
            else grpc.aio.insecure_channel(target, options)
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
