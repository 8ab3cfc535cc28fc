"""Webhook tables: the outbox, each event's delivery per subscriber, the attempt history,
and the subscribers a receiver's 410 Gone disabled.

Nothing here is personal: events carry identifiers only (checked when they are built,
``verifier.domain.webhooks``), and attempts keep status, time and latency, never a body.
Subscribers' URLs and secrets stay in the configuration.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from verifier.storage.models import Base
from verifier.storage.types import UtcDateTime

# SQLite gives an INTEGER PRIMARY KEY its rowid; BIGINT would not autoincrement there.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEventRow(Base):
    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_undispatched", "dispatched_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # The exact body that is signed and sent (compact JSON, identifiers only).
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class DeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscriber", "subscriber", "state"),
    )

    event_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhook_outbox.id"), primary_key=True
    )
    subscriber: Mapped[str] = mapped_column(String(63), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    # Attempts since the delivery was (re)queued: the position in the retry schedule.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_outcome: Mapped[str] = mapped_column(String(32), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AttemptRow(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_delivery", "event_id", "subscriber"),
        Index("ix_webhook_attempts_subscriber_at", "subscriber", "at"),
    )

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), ForeignKey("webhook_outbox.id"))
    subscriber: Mapped[str] = mapped_column(String(63))
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(32))
    latency_ms: Mapped[int] = mapped_column(Integer)


class DisabledSubscriberRow(Base):
    __tablename__ = "webhook_disabled_subscribers"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    disabled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(128))
