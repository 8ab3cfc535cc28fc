"""The rows an in-memory store keeps: immutable, so a unit of work's copy is a snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from audit.entry import EntryDraft
from tests.fakes.batches import BatchTables
from tests.fakes.monitoring import MonitoringTables
from tests.fakes.roster import RosterTables
from tests.fakes.tables_webhooks import WebhookTables
from verifier.domain.consent import ConsentDoc, ConsentEvent, ConsentRecord
from verifier.domain.fragment import EmbeddedFragment
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import SourceOutcome
from verifier.domain.ports import CachedResult, StoredReport, VerificationRecord
from verifier.domain.ports.federation_retries import PeerRetry
from verifier.domain.ports.peers import PeerTrust, StoredAnswer


@dataclass(frozen=True, slots=True)
class VerificationRow:
    record: VerificationRecord
    request: VerificationRequest
    authorization_id: str
    run_owner: str
    run_lease_until: datetime
    updated_at: datetime | None = None
    """When the state last changed: a done check's ``done_at``."""
    purged_at: datetime | None = None
    """Set when the reports' envelopes and the request were purged; the request is then
    gone (``load_request`` raises, as with the SQL store's NULL ``request_sealed``)."""
    records_purged_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    outcome: SourceOutcome
    next_poll_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    poll_attempts: int = 0
    records_purged: bool = False
    """The records and ticket were purged (the SQL store's sealed columns are NULL)."""


@dataclass(frozen=True, slots=True)
class ConsentRow:
    record: ConsentRecord
    doc: ConsentDoc
    events: tuple[ConsentEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    draft: EntryDraft
    body: dict[str, Any]
    """The entry's JSON body, as the real log hashes and stores it."""
    leaf_hash: bytes
    chain_hash: bytes


OutcomeKey = tuple[str, int, str]  # (verification id, member index, source)


@dataclass(frozen=True, slots=True)
class FragmentRow:
    fragment: EmbeddedFragment
    created_at: datetime
    purged: bool = False
    """The envelope was purged (the SQL store's sealed column is NULL); the row stays."""


@dataclass(frozen=True, slots=True)
class RetryRow:
    retry: PeerRetry
    lease_owner: str | None = None
    lease_until: datetime | None = None


RetryKey = tuple[str, str, str]  # (verification id, peer, ask request id)


def _seeded_leases() -> dict[str, tuple[str, datetime]]:
    # The SQL migration inserts the retention job's row, so a lease is one conditional
    # update; a job without a row is never leased.
    return {"retention": ("", datetime(2000, 1, 1, tzinfo=UTC))}


@dataclass(slots=True)
class Tables:
    """Everything the store holds. A unit of work works on a :meth:`copy` and the store
    takes the copy when it commits; the rows are frozen, so a shallow copy is enough."""

    verifications: dict[str, VerificationRow] = field(default_factory=dict)
    outcomes: dict[OutcomeKey, OutcomeRow] = field(default_factory=dict)
    reports: dict[tuple[str, int], StoredReport] = field(default_factory=dict)
    consents: dict[str, ConsentRow] = field(default_factory=dict)
    audit: list[AuditRow] = field(default_factory=list)
    cache: dict[tuple[str, str], CachedResult] = field(default_factory=dict)
    announced: list[str] = field(default_factory=list)
    monitoring: MonitoringTables = field(default_factory=MonitoringTables)
    webhooks: WebhookTables = field(default_factory=WebhookTables)
    roster: RosterTables = field(default_factory=RosterTables)
    batches: BatchTables = field(default_factory=BatchTables)
    job_leases: dict[str, tuple[str, datetime]] = field(default_factory=_seeded_leases)
    """Job name → (owner, until)."""
    peers: dict[str, PeerTrust] = field(default_factory=dict)
    """Federation peers' trust state, by name."""
    answers: dict[tuple[str, str], StoredAnswer] = field(default_factory=dict)
    """Answers given to peers, by (requester, request id)."""
    fragments: dict[tuple[str, str], FragmentRow] = field(default_factory=dict)
    """Peers' fragments kept for checks, by (verification id, envelope SHA-256)."""
    federation_retries: dict[RetryKey, RetryRow] = field(default_factory=dict)
    federation_rate: dict[str, tuple[float, datetime]] = field(default_factory=dict)
    """Peer → (tokens left, as of)."""

    def copy(self) -> Tables:
        return Tables(
            dict(self.verifications),
            dict(self.outcomes),
            dict(self.reports),
            dict(self.consents),
            list(self.audit),
            dict(self.cache),
            list(self.announced),
            monitoring=self.monitoring.copy(),
            webhooks=self.webhooks.copy(),
            roster=self.roster.copy(),
            batches=self.batches.copy(),
            job_leases=dict(self.job_leases),
            peers=dict(self.peers),
            answers=dict(self.answers),
            fragments=dict(self.fragments),
            federation_retries=dict(self.federation_retries),
            federation_rate=dict(self.federation_rate),
        )
