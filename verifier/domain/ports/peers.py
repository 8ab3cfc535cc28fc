"""Federation peers' trust state: which configured peers are trusted now, with the key
ids pinned when they were. No row: not trusted (nothing is trusted by default)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class PeerState(StrEnum):
    TRUSTED = "trusted"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class PeerTrust:
    name: str
    state: PeerState
    key_ids: tuple[str, ...]
    """The report-signing key ids pinned when the peer was trusted."""
    changed_at: datetime
    changed_by: str
    """The operator who trusted or revoked it (a user name, never personal data)."""


class PeerRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, name: str) -> PeerTrust | None: ...

    @abc.abstractmethod
    async def all(self) -> list[PeerTrust]:
        """Every peer with a recorded state, by name."""

    @abc.abstractmethod
    async def put(self, trust: PeerTrust) -> None:
        """Record ``trust`` as the peer's state now (replacing any earlier one)."""
