"""The webhook rows an in-memory store keeps (frozen, so a copy is a snapshot)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from verifier.domain.ports import AttemptView
from verifier.domain.webhooks import DeliveryState, OutboxEvent


@dataclass(frozen=True, slots=True)
class OutboxRow:
    event: OutboxEvent
    seq: int
    """Order of writing (the SQL table orders by creation time)."""
    dispatched_at: datetime | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """The wall clock at writing, as the SQL outbox stamps it."""


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_attempt_at: datetime | None = None
    last_outcome: str = ""
    delivered_at: datetime | None = None


@dataclass(slots=True)
class WebhookTables:
    outbox: dict[str, OutboxRow] = field(default_factory=dict)
    deliveries: dict[tuple[str, str], DeliveryRow] = field(default_factory=dict)
    attempts: list[AttemptView] = field(default_factory=list)
    disabled: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def copy(self) -> WebhookTables:
        return WebhookTables(
            dict(self.outbox), dict(self.deliveries), list(self.attempts), dict(self.disabled)
        )
