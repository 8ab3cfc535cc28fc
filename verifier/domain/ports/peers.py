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


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The fragment given to a peer for one of its requests."""

    requester: str
    request_id: str
    request_digest: str
    """Keyed digest of the 协查, to refuse a reused request id with other content."""
    envelope: bytes
    release_seq: int
    """The seq of this deployment's audit entry that released it."""
    created_at: datetime


class AnswerRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, requester: str, request_id: str) -> StoredAnswer | None: ...

    @abc.abstractmethod
    async def add(self, answer: StoredAnswer) -> None:
        """Keep a new answer (its key is not taken: the caller looked in the same unit)."""
