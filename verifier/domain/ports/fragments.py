"""Peers' fragments this deployment accepted for its own checks (the requester side).

A fragment holds members' records (masked, but still personal data): it is sealed at
rest, re-wrapped on key rotation and purged with its verification's other personal
data."""

from __future__ import annotations

import abc
from datetime import datetime

from verifier.domain.fragment import EmbeddedFragment


class FragmentRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, verification_id: str, fragment: EmbeddedFragment, now: datetime) -> None:
        """Keep ``fragment`` for the verification. Idempotent: a fragment already kept
        for it (same ``envelope_sha256``) is left as it is."""

    @abc.abstractmethod
    async def of(self, verification_id: str) -> list[EmbeddedFragment]:
        """The fragments kept for the verification, ordered by ``envelope_sha256``
        (empty once its personal data was purged)."""
