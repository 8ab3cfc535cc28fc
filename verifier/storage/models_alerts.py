"""Tables of change detection and alerts (监测预警), SQLAlchemy 2 typed ORM.

Plain columns hold keyed references (HMAC subject refs), codes, dates and hashes. The
one column with personal data, the person an external warning names, is sealed.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from verifier.storage.models import Base
from verifier.storage.types import UtcDateTime


class HouseholdCheckRow(Base):
    """A check of a household with a released report: how its successor finds it."""

    __tablename__ = "household_checks"
    __table_args__ = (
        Index("ix_household_checks_household", "region", "household_ref", "created_at"),
        Index("ix_household_checks_roster", "region", "roster_ref", "created_at"),
    )

    verification_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("verifications.id"), primary_key=True
    )
    region: Mapped[str] = mapped_column(String(6))
    household_ref: Mapped[str] = mapped_column(String(64))
    # Each member's subject_ref in the request's order, comma-separated (HMACs only).
    member_refs: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # HMAC of the roster entry's key, for checks the roster's scheduler started.
    roster_ref: Mapped[str] = mapped_column(String(64), default="")


class ChangeComparisonRow(Base):
    """A comparison a released report version needs; written with the release."""

    __tablename__ = "change_comparisons"
    __table_args__ = (Index("ix_change_comparisons_due", "state", "due_at"),)

    verification_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("verifications.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16))  # pending, done
    outcome: Mapped[str] = mapped_column(String(32), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ChangeDocumentRow(Base):
    """A signed change document (DSSE), between the previous check's latest version and
    this version of the current check. The envelope holds masked IDs and keyed refs only."""

    __tablename__ = "change_documents"
    __table_args__ = (
        Index("ix_change_documents_household", "region", "household_ref", "created_at"),
    )

    verification_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("verifications.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    region: Mapped[str] = mapped_column(String(6))
    household_ref: Mapped[str] = mapped_column(String(64))
    previous_verification_id: Mapped[str] = mapped_column(String(36))
    previous_version: Mapped[int] = mapped_column(Integer)
    previous_report_id: Mapped[str] = mapped_column(String(36))
    previous_sha256: Mapped[str] = mapped_column(String(64))
    current_report_id: Mapped[str] = mapped_column(String(36))
    current_sha256: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    codes: Mapped[str] = mapped_column(String(1024))
    household_figures_compared: Mapped[bool] = mapped_column(Boolean)
    withheld: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    record_seq: Mapped[int] = mapped_column(BigInteger)


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_created", "created_at", "id"),
        Index("ix_alerts_household", "household_ref"),
        Index("ix_alerts_open_deadline", "state", "deadline"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # SHA-256 of the draft's dedup key: one alert per key, whatever raises it again.
    dedup_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(48))
    region: Mapped[str] = mapped_column(String(6), index=True)
    risk_level: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(64), default="")
    household_ref: Mapped[str] = mapped_column(String(64), default="")
    subject_ref: Mapped[str] = mapped_column(String(64), default="")
    verification_id: Mapped[str] = mapped_column(String(36), default="")
    report_version: Mapped[int] = mapped_column(Integer, default=0)
    act_by: Mapped[date | None] = mapped_column(Date, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolution: Mapped[str] = mapped_column(String(16), default="")
    referred_program: Mapped[str] = mapped_column(String(32), default="")
    overdue_marked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Codes, figures and parameter references: no personal data (JSON).
    details: Mapped[str] = mapped_column(Text)
    # The person a warning or outreach entry names (id type, number, name), sealed.
    person_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    person_key_id: Mapped[str] = mapped_column(String(64), default="")


class AlertEventRow(Base):
    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(36), ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    event: Mapped[str] = mapped_column(String(16))
    actor_system: Mapped[str] = mapped_column(String(128))
    actor_user: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(String(512))
