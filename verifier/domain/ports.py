"""Ports: what the use cases need from storage (implemented in verifier.storage).

Storage implements :class:`Store`; tests may subclass these with in-memory fakes.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from audit.entry import EntryDraft
from audit.log import AppendedEntry
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import Completeness, SourceOutcome, VerificationState


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the system (from its certificate), the end user, role and regions."""

    system: str
    user: str
    role: str
    regions: tuple[str, ...]

    def region_label(self) -> str:
        return ",".join(self.regions)


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


@dataclass(frozen=True, slots=True)
class StoredReport:
    verification_id: str
    version: int
    report_id: str
    envelope: bytes
    envelope_sha256: str
    previous_sha256: str
    signing_key_id: str
    completeness: Completeness
    release_seq: int
    summary_json: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutcomeSummary:
    member_index: int
    source: str
    status: str
    reason: str


class UnitOfWork(abc.ABC):
    """One database transaction. Rolls back on exit unless :meth:`commit` was called."""

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None: ...

    @abc.abstractmethod
    async def append_audit(self, drafts: Sequence[EntryDraft]) -> list[AppendedEntry]: ...

    @abc.abstractmethod
    async def find_verification_by_request(
        self, caller_system: str, request_id: str
    ) -> VerificationRecord | None: ...

    @abc.abstractmethod
    async def get_verification(self, verification_id: str) -> VerificationRecord | None: ...

    @abc.abstractmethod
    async def add_verification(
        self, record: VerificationRecord, request: VerificationRequest, authorization_id: str
    ) -> None: ...

    @abc.abstractmethod
    async def load_request(self, verification_id: str) -> VerificationRequest: ...

    @abc.abstractmethod
    async def save_outcomes(
        self, verification_id: str, outcomes: Sequence[SourceOutcome], now: datetime
    ) -> None: ...

    @abc.abstractmethod
    async def outcome_summaries(self, verification_id: str) -> list[OutcomeSummary]: ...

    @abc.abstractmethod
    async def set_state(
        self,
        verification_id: str,
        state: VerificationState,
        completeness: Completeness | None,
        latest_version: int,
        now: datetime,
    ) -> None: ...

    @abc.abstractmethod
    async def add_report(self, report: StoredReport) -> None: ...

    @abc.abstractmethod
    async def get_report(self, verification_id: str, version: int) -> StoredReport | None:
        """``version`` 0 means the latest."""


class Store(abc.ABC):
    """Opens units of work."""

    @abc.abstractmethod
    def unit_of_work(self, *, write: bool) -> UnitOfWork: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the database cannot be reached or the audit log cannot be written."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...
