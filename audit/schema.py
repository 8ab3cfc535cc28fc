"""Audit tables. They have their own metadata: the audit log is its own component.

``audit_entries`` holds the canonical body bytes (the truth) and, for queries, copies of
a few fields; ``audit_verify`` checks the copies against the body. ``audit_head`` is one
row: the last seq, chain hash and Merkle frontier, locked by every append so that seq is
gapless. ``audit_tree_nodes`` keeps the perfect-subtree hashes above the leaves (a leaf's
hash is ``audit_entries.leaf_hash``), keyed by the seq whose append completed them, so a
proof costs one indexed lookup per level. ``audit_checkpoints`` keeps signed tree heads.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
)
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
    # On the reference alone: PostgreSQL's B-tree deduplication then keeps a subject's
    # entries as one key and a list of row pointers (the same person is in every entry of
    # a check), less than half the size of a (subject_ref, seq) index.
    __table_args__ = (Index("ix_audit_subjects_ref", "subject_ref"),)

    seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audit_entries.seq"), primary_key=True, autoincrement=False
    )
    subject_ref: Mapped[str] = mapped_column(String(64), primary_key=True)


class AuditHeadRow(AuditBase):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The perfect-subtree roots of the tree of size last_seq + 1, largest first, concatenated.
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


class AuditTreeNodeRow(AuditBase):
    """The hash of the perfect subtree ``(level, index)``, level >= 1.

    It covers leaves ``[index << level, (index + 1) << level)`` and was completed by the
    append of ``seq = ((index + 1) << level) - 1``; keying by (seq, level) makes the
    verifier's streaming pass a range scan and a proof's lookups point reads.
    """

    __tablename__ = "audit_tree_nodes"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpointRow(AuditBase):
    """A signed C2SP checkpoint; ``size`` and ``root`` are copies of what ``note`` says."""

    __tablename__ = "audit_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(32))
