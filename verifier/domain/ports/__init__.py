"""Ports: what the use cases need from storage, as small repositories.

A :class:`UnitOfWork` is one transaction; its repositories (``uow.verifications``,
``uow.outcomes``, ``uow.polls``, ``uow.reports``, ``uow.consents``, ``uow.audit``,
``uow.cache``, ``uow.outbox``, ``uow.deliveries``, ``uow.fragments``,
``uow.federation_retries``, ``uow.federation_rate``, ...) work inside it. :class:`Store` opens
units of work and group-commits :meth:`Store.write`. Auditors read the log through
:class:`AuditReader` and :class:`AuditCheckpoints`. ``verifier.storage`` implements them on
SQLAlchemy; the unit tests use in-memory fakes that subclass them (``tests/fakes/``).
Nothing here does I/O.
"""

# Caller is a value, not a port; it is here too because the API layer imports it with them.
from verifier.domain.caller import Caller
from verifier.domain.ports.alerts import AlertChange, AlertRepository
from verifier.domain.ports.audit import (
    AuditCheckpoints,
    AuditReader,
    AuditRepository,
    EntryQuery,
    EntryView,
)
from verifier.domain.ports.batches import BatchRepository
from verifier.domain.ports.cache import CachedResult, CacheRepository
from verifier.domain.ports.changes import (
    ChangeQuery,
    ChangeRepository,
    HouseholdCheck,
    PendingComparison,
    StoredChanges,
)
from verifier.domain.ports.consents import ConsentGate, ConsentRepository
from verifier.domain.ports.federation_rate import PeerRateRepository
from verifier.domain.ports.federation_retries import FederationRetryRepository, PeerRetry
from verifier.domain.ports.fragments import FragmentRepository
from verifier.domain.ports.outbox import (
    Attempt,
    AttemptView,
    DeliveryLease,
    DeliveryRepository,
    OutboxRepository,
    SubscriberState,
    Subscription,
)
from verifier.domain.ports.outcomes import OutcomeRepository, OutcomeSummary
from verifier.domain.ports.polls import PollLease, PollRepository
from verifier.domain.ports.rechecks import RecheckRepository, ReleasedCheck
from verifier.domain.ports.reports import ReportRepository, StoredReport
from verifier.domain.ports.roster import (
    Cycle,
    NewContent,
    RosterQuery,
    RosterRecord,
    RosterRepository,
    Schedule,
)
from verifier.domain.ports.store import Store, UnitOfWork
from verifier.domain.ports.terms import (
    ListedVerification,
    TermsRepository,
    VerificationQuery,
    VerificationTerms,
)
from verifier.domain.ports.verifications import VerificationRecord, VerificationRepository

__all__ = [
    "AlertChange",
    "AlertRepository",
    "Attempt",
    "AttemptView",
    "AuditCheckpoints",
    "AuditReader",
    "AuditRepository",
    "BatchRepository",
    "CacheRepository",
    "CachedResult",
    "Caller",
    "ChangeQuery",
    "ChangeRepository",
    "ConsentGate",
    "ConsentRepository",
    "Cycle",
    "DeliveryLease",
    "DeliveryRepository",
    "EntryQuery",
    "EntryView",
    "FederationRetryRepository",
    "FragmentRepository",
    "HouseholdCheck",
    "ListedVerification",
    "NewContent",
    "OutboxRepository",
    "OutcomeRepository",
    "OutcomeSummary",
    "PeerRateRepository",
    "PeerRetry",
    "PendingComparison",
    "PollLease",
    "PollRepository",
    "RecheckRepository",
    "ReleasedCheck",
    "ReportRepository",
    "RosterQuery",
    "RosterRecord",
    "RosterRepository",
    "Schedule",
    "Store",
    "StoredChanges",
    "StoredReport",
    "SubscriberState",
    "Subscription",
    "TermsRepository",
    "UnitOfWork",
    "VerificationQuery",
    "VerificationRecord",
    "VerificationRepository",
    "VerificationTerms",
]
