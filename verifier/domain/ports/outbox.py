"""The webhook outbox and the delivery state of its events, per subscriber.

``uow.outbox.add(event)`` writes an event in the caller's transaction: it exists exactly
when the thing it tells of was committed. The delivery worker then gives each new event
a delivery per subscriber of its type (:meth:`OutboxRepository.dispatch`), and leases due
deliveries (:class:`DeliveryRepository`, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) so
that any replica may send them and a dead replica's leases expire. Subscribers
themselves live in the configuration; only their delivery state is stored.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from verifier.domain.webhooks import DeliveryState, EventType, OutboxEvent


@dataclass(frozen=True, slots=True)
class Subscription:
    """What delivery needs to know of a configured subscriber: its name and the event
    types it receives."""

    name: str
    event_types: frozenset[EventType]


@dataclass(frozen=True, slots=True)
class DeliveryLease:
    """One event to send to one subscriber, owned by this worker until the lease ends."""

    event_id: str
    event_type: EventType
    subscriber: str
    attempts: int
    """Attempts made before this one (0: this is the first)."""
    payload: bytes


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at sending an event: what came back and how long it took. Never the
    body, in either direction."""

    at: datetime
    status_code: int | None
    """The HTTP status, or None when no answer came (timeout, refused connection)."""
    outcome: str
    """``acknowledged``, ``http_<status>``, ``timeout`` or ``connection_error``."""
    latency_ms: int


@dataclass(frozen=True, slots=True)
class AttemptView:
    """An attempt as the history keeps it."""

    event_id: str
    subscriber: str
    number: int
    at: datetime
    status_code: int | None
    outcome: str
    latency_ms: int


@dataclass(frozen=True, slots=True)
class SubscriberState:
    """A subscriber's deliveries at a glance (``hedui webhooks list``)."""

    name: str
    pending: int
    failed: int
    delivered: int
    last_attempt_at: datetime | None
    last_outcome: str
    last_delivered_at: datetime | None
    disabled_at: datetime | None
    disabled_reason: str


def attempt_moves_delivery(
    state: DeliveryState, lease_owner: str | None, owner: str, result: DeliveryState
) -> bool:
    """Whether an attempt ending in ``result``, made by ``owner``, may move a delivery now
    in ``state`` and leased to ``lease_owner`` (:meth:`DeliveryRepository.record`).

    Only a PENDING delivery moves. A DELIVERED result counts whoever holds the lease now:
    the receiver has the event, and sending it again would only be deduplicated.
    """
    return state is DeliveryState.PENDING and (
        result is DeliveryState.DELIVERED or lease_owner == owner
    )


def is_latest_attempt(last_attempt_at: datetime | None, at: datetime) -> bool:
    """Whether an attempt made ``at`` is the latest yet, so it names the last outcome."""
    return last_attempt_at is None or last_attempt_at <= at


class OutboxRepository(abc.ABC):
    """Events waiting to be told. Write them only through :meth:`add`, in the transaction
    of what they tell of."""

    @abc.abstractmethod
    async def add(self, event: OutboxEvent) -> bool:
        """Write ``event`` in this unit of work. False (and nothing written) if an event
        with its id is already there: the same event added twice is one event."""

    @abc.abstractmethod
    async def has_undispatched(self) -> bool:
        """Whether any event still waits for :meth:`dispatch` (a cheap read)."""

    @abc.abstractmethod
    async def dispatch(
        self, subscriptions: Sequence[Subscription], now: datetime, limit: int
    ) -> int:
        """Give up to ``limit`` new events a pending delivery (due ``now``) for each
        subscription of their type, and mark them dispatched; events nobody subscribes to
        are marked too. Returns the number of events handled. Two workers never take the
        same event (SKIP LOCKED)."""

    @abc.abstractmethod
    async def get(self, event_id: str) -> OutboxEvent | None:
        """The event with that id, if the outbox holds it."""


class DeliveryRepository(abc.ABC):
    """Each event's delivery to each subscriber, its attempts, and which subscribers are
    disabled (a receiver answered 410 Gone)."""

    @abc.abstractmethod
    async def has_due_work(self, now: datetime, subscribers: Collection[str]) -> bool:
        """Whether a delivery to one of ``subscribers`` is due and not leased (a cheap read)."""

    @abc.abstractmethod
    async def next_due(self, subscribers: Collection[str]) -> datetime | None:
        """When the earliest pending delivery to an enabled one of ``subscribers`` is due
        (None: nothing pending)."""

    @abc.abstractmethod
    async def lease(
        self,
        owner: str,
        now: datetime,
        until: datetime,
        subscribers: Collection[str],
        limit: int,
    ) -> list[DeliveryLease]:
        """Lease up to ``limit`` due pending deliveries to enabled ``subscribers`` that
        nobody holds (or whose lease has expired), oldest first."""

    @abc.abstractmethod
    async def record(
        self,
        lease: DeliveryLease,
        owner: str,
        attempt: Attempt,
        *,
        state: DeliveryState,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Keep ``attempt`` in the history and move the delivery to ``state`` (PENDING:
        due again at ``next_attempt_at``), releasing the lease. A DELIVERED result is
        kept whoever holds the lease now (the receiver has it); any other result only by
        the lease's owner. False if the state was not changed."""

    @abc.abstractmethod
    async def disable(self, subscriber: str, at: datetime, reason: str) -> None:
        """Stop delivering to ``subscriber`` (its pending deliveries wait, unsent)."""

    @abc.abstractmethod
    async def enable(self, subscriber: str) -> bool:
        """Deliver to ``subscriber`` again. False if it was not disabled."""

    @abc.abstractmethod
    async def disabled(self) -> frozenset[str]:
        """The names of the disabled subscribers."""

    @abc.abstractmethod
    async def states(self, names: Sequence[str]) -> list[SubscriberState]:
        """One summary per name, in the order given (a name with no deliveries: zeros)."""

    @abc.abstractmethod
    async def attempts(
        self, *, subscriber: str = "", event_id: str = "", limit: int = 100
    ) -> list[AttemptView]:
        """The latest attempts (newest first), optionally for one subscriber or event."""

    @abc.abstractmethod
    async def replay(
        self,
        subscriptions: Sequence[Subscription],
        *,
        since: datetime,
        now: datetime,
        event_id: str = "",
    ) -> int:
        """Deliver again every event that occurred at or after ``since`` (only ``event_id``
        if given) to each of ``subscriptions`` of its type: delivered and failed
        deliveries become pending with a fresh schedule, and a subscription that never had
        the event gets a delivery. Same event, same webhook-id. Returns how many deliveries
        were (re)queued; a delivery already pending is left as it is and not counted."""
