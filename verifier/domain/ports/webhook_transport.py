"""The port webhook delivery sends through: one POST and what came back.

Only the status, the latency and how it ended cross it — never a body, in either direction,
so nothing a receiver answers reaches the logs. The HTTP implementation lives in
``verifier.transport``; tests use fakes that subclass :class:`Transport`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None
    """The HTTP status, or None when none came."""
    outcome: str
    """``http_<status>``, ``timeout`` or ``connection_error``."""
    latency_ms: int


class Transport(abc.ABC):
    @abc.abstractmethod
    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Answer:
        """POST ``body``; never raises for the receiver's failures, only reports them."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release connections."""
