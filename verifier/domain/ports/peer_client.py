"""The requester's line to a peer deployment: send a 协查, get the signed answer or why
not. Implemented over gRPC/mTLS by :mod:`verifier.api.federation_client`; the service
layer sees only this."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from verifier.domain.federation_ask import FederationAsk
from verifier.domain.peers import PeerConfig


@dataclass(frozen=True, slots=True)
class PeerReply:
    fragment: bytes
    """The DSSE envelope as received: not trusted until verified against pinned keys."""
    release_seq: int
    replayed: bool


class PeerRefused(Exception):
    """The peer refused the 协查; ``reason`` is its ErrorInfo reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PeerRejected(Exception):
    """The peer judged the 协查 itself wrong (malformed, a request id reused with other
    content, a state it cannot answer in): asking it again unchanged cannot help, so it
    is not asked again. ``code`` is the gRPC status name, e.g. ``INVALID_ARGUMENT``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PeerUnavailable(Exception):
    """The peer did not answer (down, unreachable, out of time, or an error of its own)."""


class PeerClient(abc.ABC):
    @abc.abstractmethod
    async def assist(self, peer: PeerConfig, ask: FederationAsk, timeout: float) -> PeerReply:
        """Send ``ask`` to ``peer``; PeerRefused, PeerRejected or PeerUnavailable
        otherwise."""

    @abc.abstractmethod
    async def receipt(self, peer: PeerConfig, request_id: str, timeout: float) -> bytes:
        """The peer's receipt (JSON) of its release entry for ``request_id``; PeerRefused
        or PeerUnavailable otherwise."""
