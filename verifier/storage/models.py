"""Verification and report tables (SQLAlchemy 2 typed ORM).

Personal data lives only in sealed (AES-256-GCM) columns; plain columns hold ids,
states, counts and hashes.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from verifier.storage.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class VerificationRow(Base):
    __tablename__ = "verifications"
    __table_args__ = (UniqueConstraint("caller_system", "request_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    caller_system: Mapped[str] = mapped_column(String(128))
    caller_user: Mapped[str] = mapped_column(String(128))
    caller_role: Mapped[str] = mapped_column(String(32), default="")
    caller_region: Mapped[str] = mapped_column(String(128), default="")
    request_id: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    authorization_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(6))
    purposes: Mapped[str] = mapped_column(String(256))
    member_count: Mapped[int] = mapped_column(Integer)
    source_count: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    completeness: Mapped[str] = mapped_column(String(16), default="")
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The validated request (with raw ID numbers), sealed; needed to ask late sources.
    # NULL once purged (verifier.service.retention), with the time in ``purged_at``;
    # ``records_purged_at`` is when its outcomes' sealed records and tickets were.
    request_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    request_key_id: Mapped[str] = mapped_column(String(64))
    # A digest of the request's content, to refuse a reused request_id with other content.
    request_digest: Mapped[str] = mapped_column(String(64))
    # Which process is asking the sources, until when; an expired lease is resumed.
    run_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    run_lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    records_purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SourceOutcomeRow(Base):
    __tablename__ = "source_outcomes"

    verification_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("verifications.id"), primary_key=True
    )
    member_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    adapter: Mapped[str] = mapped_column(String(128))
    adapter_version: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    as_of: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    records_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    records_key_id: Mapped[str] = mapped_column(String(64), default="")
    ticket_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    reused: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    overdue_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    poll_attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The peer deployment that answered ("" = this one) and the SHA-256 of its fragment.
    deployment: Mapped[str] = mapped_column(String(64), default="")
    fragment_sha256: Mapped[str] = mapped_column(String(64), default="")


class ResultCacheRow(Base):
    """The last definite answer per subject × source, for reuse within a window."""

    __tablename__ = "result_cache"

    subject_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    adapter: Mapped[str] = mapped_column(String(128))
    adapter_version: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime)
    records_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))
    # The assessment window the answer was given for: reused only for the same window.
    window_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    window_end: Mapped[date | None] = mapped_column(Date, nullable=True)


class SealBaseRow(Base):
    """What first report versions are compressed against: a report's policy section (the
    region's parameters, their references and values), which holds no personal data and is
    the same for every check the same rules decided. Kept once, zstd-compressed, by the
    first 8 bytes of its SHA-256 in hex, which sealed values name; never purged."""

    __tablename__ = "seal_bases"

    digest: Mapped[str] = mapped_column(String(16), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReportRow(Base):
    __tablename__ = "reports"

    verification_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("verifications.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    report_id: Mapped[str] = mapped_column(String(36), unique=True)
    # NULL once purged: the hash, release entry and summary stay, so a printout can still
    # be checked against them.
    envelope_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    data_key_id: Mapped[str] = mapped_column(String(64))
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    previous_sha256: Mapped[str] = mapped_column(String(64), default="")
    signing_key_id: Mapped[str] = mapped_column(String(64))
    completeness: Mapped[str] = mapped_column(String(16))
    release_seq: Mapped[int] = mapped_column(BigInteger)
    # The summary GetReport and a closed check's progress read (statuses, counts, totals:
    # personal data — a disability certificate found is health data), sealed like the
    # envelope and purged with it. Rows from before 0015 hold it as plain JSON instead.
    summary_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    summary_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ConsentRow(Base):
    __tablename__ = "consents"

    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(6))
    household_ref: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    sources: Mapped[str] = mapped_column(String(512))
    purposes: Mapped[str] = mapped_column(String(256))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    superseded_by: Mapped[str] = mapped_column(String(64), default="")
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))


class ConsentSubjectRow(Base):
    __tablename__ = "consent_subjects"

    number: Mapped[str] = mapped_column(String(64), ForeignKey("consents.number"), primary_key=True)
    subject_ref: Mapped[str] = mapped_column(String(64), primary_key=True)


class ConsentEventRow(Base):
    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(64), ForeignKey("consents.number"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    event: Mapped[str] = mapped_column(String(32))
    actor_system: Mapped[str] = mapped_column(String(128))
    actor_user: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(String(512))


class JobLeaseRow(Base):
    """Which process runs a background job only one may run at a time, until when."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), default="")
    until: Mapped[datetime] = mapped_column(UtcDateTime)
