"""Audit tables. They have their own metadata: the audit log is its own component.

``audit_entries`` holds the canonical body bytes (the truth) and, for queries, copies of
a few fields; ``audit_verify`` checks the copies against the body. ``audit_head`` is one
row: the last seq and chain hash, locked by every append so that seq is gapless.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class AuditBase(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class AuditEntryRow(AuditBase):
    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32), index=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    actor_system: Mapped[str] = mapped_column(String(128), index=True)
    actor_user: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    verification_id: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(32))


class AuditSubjectRow(AuditBase):
    """One row per (entry, subject_ref): the index behind "who looked at this person"."""

    __tablename__ = "audit_subjects"
    __table_args__ = (Index("ix_audit_subjects_ref_seq", "subject_ref", "seq"),)

    seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audit_entries.seq"), primary_key=True, autoincrement=False
    )
    subject_ref: Mapped[str] = mapped_column(String(64), primary_key=True)


class AuditHeadRow(AuditBase):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
