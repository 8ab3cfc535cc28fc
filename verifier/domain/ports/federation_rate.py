"""The rate at which this deployment answers each federation peer's 协查, shared by
every server process through the database."""

from __future__ import annotations

import abc
from datetime import datetime


class PeerRateRepository(abc.ABC):
    @abc.abstractmethod
    async def take(self, peer: str, rate_per_minute: int, now: datetime) -> bool:
        """Take one token from ``peer``'s bucket (capacity ``rate_per_minute``, refilled
        at that rate); False if it is empty. One bucket per peer for all processes, so
        together they answer at most the agreed rate."""
