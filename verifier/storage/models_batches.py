"""Tables of batches and of each verification's terms (urgency, due date, batch),
SQLAlchemy 2 typed ORM.

Plain columns hold ids, keys, states, counts and dates. The one column with personal
data, an accepted item's validated request, is sealed, and dropped once its check has
started (the verification keeps its own sealed copy).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from verifier.storage.models import Base
from verifier.storage.types import UtcDateTime


class BatchRow(Base):
    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("caller_system", "request_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    caller_system: Mapped[str] = mapped_column(String(128))
    caller_user: Mapped[str] = mapped_column(String(128))
    caller_role: Mapped[str] = mapped_column(String(32))
    caller_region: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(64))
    # Keyed digest of the submission, to refuse a reused request_id with other content.
    request_digest: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    item_count: Mapped[int] = mapped_column(Integer)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class BatchItemRow(Base):
    __tablename__ = "batch_items"
    __table_args__ = (
        # Runners claim the oldest queued items first, and expired leases.
        Index("ix_batch_items_claim", "state", "queued_at"),
        Index("ix_batch_items_batch_state", "batch_id", "state"),
    )

    batch_id: Mapped[str] = mapped_column(String(36), ForeignKey("batches.id"), primary_key=True)
    item_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # '' when the item's key was itself malformed.
    item_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    verification_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # REFUSED: JSON list of [field, description] (never a value); DENIED: the reason code.
    violations_json: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(String(64), default="")
    request_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    request_key_id: Mapped[str] = mapped_column(String(64), default="")
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class VerificationTermsRow(Base):
    __tablename__ = "verification_terms"
    __table_args__ = (
        Index("ix_verification_terms_due", "overdue_flagged_at", "due_at"),
        Index("ix_verification_terms_batch", "batch_id"),
    )

    verification_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("verifications.id"), primary_key=True
    )
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    batch_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # What started the check (CheckOrigin): the volume limit counts interactive ones.
    origin: Mapped[str] = mapped_column(String(16), default="interactive")
