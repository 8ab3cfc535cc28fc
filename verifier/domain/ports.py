"""Ports: what the use cases need from storage (implemented in verifier.storage).

Storage implements :class:`Store`; tests may subclass these with in-memory fakes.
"""

from __future__ import annotations

import abc
from asyncio import Event
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import TypeVar

from adapters import Record, SourceKind, Window
from audit.entry import AppendedEntry, EntryDraft
from verifier.domain.consent import (
    ConsentDoc,
    ConsentEvent,
    ConsentRecord,
    ConsentState,
    CoverageDecision,
)
from verifier.domain.household import Purpose, VerificationRequest
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
    caller_role: str = ""
    caller_region: str = ""


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
class PollLease:
    """A PENDING source this process now owns until ``lease_until``."""

    verification_id: str
    member_index: int
    source: str
    ticket: str
    poll_attempts: int
    due_at: datetime | None
    overdue_flagged: bool


@dataclass(frozen=True, slots=True)
class CachedResult:
    subject_ref: str
    source: str
    status: str
    adapter: str
    adapter_version: str
    as_of: datetime | None
    fetched_at: datetime
    records: tuple[Record, ...]
    window: Window | None = None
    """The assessment window the source answered for (an answer about income in one
    window says nothing about another)."""


@dataclass(frozen=True, slots=True)
class OutcomeSummary:
    member_index: int
    source: str
    status: str
    reason: str


class ConsentStore(abc.ABC):
    """The 授权书 registry's storage; part of every unit of work."""

    @abc.abstractmethod
    async def add_consent(
        self, doc: ConsentDoc, household_ref: str, subject_refs: Sequence[str], now: datetime
    ) -> None: ...

    @abc.abstractmethod
    async def get_consent(self, number: str) -> ConsentRecord | None: ...

    @abc.abstractmethod
    async def load_consent_doc(self, number: str) -> ConsentDoc: ...

    @abc.abstractmethod
    async def consent_events(self, number: str) -> list[ConsentEvent]: ...

    @abc.abstractmethod
    async def add_consent_event(self, number: str, event: ConsentEvent) -> None: ...

    @abc.abstractmethod
    async def set_consent_state(
        self, number: str, state: ConsentState, superseded_by: str = ""
    ) -> None: ...

    @abc.abstractmethod
    async def active_consents(self, region: str, household_ref: str) -> list[str]: ...


class UnitOfWork(ConsentStore, abc.ABC):
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
    async def count_checks_since(
        self, caller_system: str, caller_user: str, since: datetime
    ) -> int:
        """How many verifications this user started since ``since``."""

    @abc.abstractmethod
    async def add_verification(
        self,
        record: VerificationRecord,
        request: VerificationRequest,
        authorization_id: str,
        *,
        run_lease: tuple[str, datetime],
    ) -> None:
        """Store a new verification (request sealed), its run leased to ``(owner, until)``."""

    @abc.abstractmethod
    async def load_request(self, verification_id: str) -> VerificationRequest: ...

    @abc.abstractmethod
    async def store_outcomes(
        self,
        verification_id: str,
        outcomes: Sequence[SourceOutcome],
        now: datetime,
        *,
        stored: Collection[tuple[int, str]] | None = None,
    ) -> None:
        """Insert or replace these member × source outcomes (records sealed).

        ``stored`` names the (member index, source) pairs already stored, when the caller
        knows them (it read them under the verification's lock); otherwise they are read.
        A PENDING outcome is scheduled for polling at ``now + retry_after``."""

    @abc.abstractmethod
    async def load_outcomes(self, verification_id: str) -> list[SourceOutcome]: ...

    @abc.abstractmethod
    async def lock_verification(self, verification_id: str) -> VerificationRecord | None:
        """The verification, locked until the end of this unit of work."""

    @abc.abstractmethod
    async def lease_polls(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[PollLease]:
        """Lease due PENDING sources nobody holds (SKIP LOCKED on PostgreSQL)."""

    @abc.abstractmethod
    async def reschedule_poll(
        self, lease: PollLease, owner: str, next_poll_at: datetime, reason: str
    ) -> bool:
        """Still pending: release the lease and poll again later. False if the lease was lost."""

    @abc.abstractmethod
    async def holds_poll(
        self, verification_id: str, member_index: int, source: str, owner: str
    ) -> bool:
        """Whether ``owner`` still holds the lease on that PENDING source."""

    @abc.abstractmethod
    async def has_due_work(self, now: datetime) -> bool:
        """Whether any poll is due or any run's lease has expired (a cheap read)."""

    @abc.abstractmethod
    async def claim_stale_runs(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[str]:
        """RUNNING verifications whose asking process stopped renewing its lease."""

    @abc.abstractmethod
    async def cached_results(
        self, keys: Sequence[tuple[str, str]], fetched_after: datetime
    ) -> dict[tuple[str, str], CachedResult]:
        """Reusable answers by (subject_ref, source) fetched after ``fetched_after``."""

    @abc.abstractmethod
    async def put_cached(self, results: Sequence[CachedResult]) -> None: ...

    @abc.abstractmethod
    async def announce_release(self, verification_id: str) -> None:
        """Tell every server process, once this unit commits, that the verification has
        a new report (see :meth:`Store.listen_releases`)."""

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


class ConsentGate(abc.ABC):
    """Decides whether an authorization covers a check (the real one reads the registry).

    The decision is made inside the unit of work that records the check's intent, so an
    authorization revoked before that unit commits is never used (and one revoked after
    it is revoked after the check began)."""

    @abc.abstractmethod
    async def check(
        self,
        uow: UnitOfWork,
        number: str,
        *,
        region: str,
        subject_refs: Sequence[str],
        sources: Sequence[SourceKind],
        purposes: Sequence[Purpose],
        today: date,
    ) -> CoverageDecision: ...


T = TypeVar("T")


class Store(abc.ABC):
    """Opens units of work."""

    @abc.abstractmethod
    def unit_of_work(self, *, write: bool) -> UnitOfWork: ...

    async def write(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run ``work`` in a write unit of work and commit; return its result.

        ``work`` must not commit or roll back, nor call :meth:`write` or open another write
        unit of work (it would wait for its own batch). It may share its transaction with other
        concurrent ``write`` calls (group commit): if it raises, only its own writes are
        undone and the exception comes back here; either way this returns or raises only
        after the transaction holding its writes has committed (or failed). This default
        runs each ``work`` in a transaction of its own.
        """
        async with self.unit_of_work(write=True) as uow:
            result = await work(uow)
            await uow.commit()
            return result

    async def listen_releases(self, on_release: Callable[[str], None], stop: Event) -> None:
        """Call ``on_release(verification_id)`` for each release any process announces,
        until ``stop`` is set. This default hears nothing: a store without notifications
        leaves watchers to re-read it."""
        await stop.wait()

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the database cannot be reached or the audit log cannot be written."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...
