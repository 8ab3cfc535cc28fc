"""The verifications repository: one row per check, its sealed request and its state."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import Completeness, VerificationState


@dataclass(frozen=True, slots=True)
class VerificationRecord:
    id: str
    caller_system: str
    caller_user: str
    request_id: str
    request_digest: str
    case_id: str
    region: str
    state: VerificationState
    completeness: Completeness | None
    latest_version: int
    created_at: datetime
    member_count: int
    source_count: int
    caller_role: str = ""
    caller_region: str = ""


class VerificationRepository(abc.ABC):
    @abc.abstractmethod
    async def add(
        self,
        record: VerificationRecord,
        request: VerificationRequest,
        authorization_id: str,
        *,
        run_lease: tuple[str, datetime],
    ) -> None:
        """Store a new verification (request sealed), its run leased to ``(owner, until)``.

        A second verification with the same ``(caller_system, request_id)`` raises
        :class:`~verifier.domain.errors.Conflict` (at the latest when the unit commits)."""

    @abc.abstractmethod
    async def get(self, verification_id: str) -> VerificationRecord | None: ...

    @abc.abstractmethod
    async def lock(self, verification_id: str) -> VerificationRecord | None:
        """The verification, locked until the end of this unit of work."""

    @abc.abstractmethod
    async def find_by_request(
        self, caller_system: str, request_id: str
    ) -> VerificationRecord | None: ...

    @abc.abstractmethod
    async def count_since(self, caller_system: str, caller_user: str, since: datetime) -> int:
        """How many interactive verifications (origin ``interactive``, or from before
        origins were kept) this user started since ``since``: batch items and roster
        re-checks are bounded otherwise."""

    @abc.abstractmethod
    async def load_request(self, verification_id: str) -> VerificationRequest:
        """The verification's request, unsealed; KeyError if there is no such verification."""

    @abc.abstractmethod
    async def set_state(
        self,
        verification_id: str,
        state: VerificationState,
        completeness: Completeness | None,
        latest_version: int,
        now: datetime,
    ) -> None:
        """KeyError if there is no such verification."""

    async def latest_versions(self, verification_ids: Sequence[str]) -> dict[str, int]:
        """The latest report version of each of ``verification_ids`` that exists (one
        read where the store can: the change comparison checks two at once)."""
        out: dict[str, int] = {}
        for vid in dict.fromkeys(verification_ids):
            record = await self.get(vid)
            if record is not None:
                out[vid] = record.latest_version
        return out
