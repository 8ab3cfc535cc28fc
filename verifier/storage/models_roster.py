"""Tables of the recipient roster and its re-check jobs (SQLAlchemy 2 typed ORM).

Plain columns hold the case system's references, classes, dates and keyed subject
references; the household's members and declaration (ID numbers, names) are sealed.
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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from verifier.storage.models import Base
from verifier.storage.types import UtcDateTime


class RosterEntryRow(Base):
    __tablename__ = "roster_entries"
    __table_args__ = (
        UniqueConstraint("region", "household_ref"),
        Index("ix_roster_entries_due", "next_due_date"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region: Mapped[str] = mapped_column(String(6))
    household_ref: Mapped[str] = mapped_column(String(64))
    # ",dibao,tekun,": delimited on both sides so one program is matched with LIKE.
    programs: Mapped[str] = mapped_column(String(128))
    roster_class: Mapped[str] = mapped_column(String(32))
    authorization_number: Mapped[str] = mapped_column(String(64))
    case_ref: Mapped[str] = mapped_column(String(64))
    hukou: Mapped[str] = mapped_column(String(8))
    member_count: Mapped[int] = mapped_column(Integer)
    # HMAC-SHA256 of the imported content under the pseudonym key (it holds ID numbers).
    content_digest: Mapped[str] = mapped_column(String(64))
    imported_check_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The last check hedui ran for this entry.
    checked_verification_id: Mapped[str] = mapped_column(String(36), default="")
    checked_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    checked_outcome: Mapped[str] = mapped_column(String(16), default="")
    next_due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    cycle_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cycle_reference: Mapped[str] = mapped_column(String(256), default="")
    cycle_example: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_system: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Members and declaration (raw ID numbers and names), AES-256-GCM.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))


class RosterSubjectRow(Base):
    __tablename__ = "roster_subjects"
    __table_args__ = (Index("ix_roster_subjects_ref", "subject_ref"),)

    entry_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("roster_entries.id"), primary_key=True
    )
    subject_ref: Mapped[str] = mapped_column(String(64), primary_key=True)


class RecheckJobRow(Base):
    """One re-check of one entry for one cycle (named by its due day). Kept after the
    entry is removed: the history of what was checked."""

    __tablename__ = "recheck_jobs"
    __table_args__ = (
        Index("ix_recheck_jobs_state", "state", "lease_until"),
        # The request id is derived from (entry, cycle) for a cycle's job and from
        # (entry, system, request id) for one asked for now: unique, one job each.
        Index("ix_recheck_jobs_request", "request_id", unique=True),
        Index("ix_recheck_jobs_entry_cycle", "entry_id", "cycle_due"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(36))
    region: Mapped[str] = mapped_column(String(6))
    household_ref: Mapped[str] = mapped_column(String(64))
    cycle_due: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str] = mapped_column(String(64))
    verification_id: Mapped[str] = mapped_column(String(36), default="")
    reason: Mapped[str] = mapped_column(String(256), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Asked for now by staff (RecheckRosterEntry), not a cycle's; and in the urgent lane.
    on_demand: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
