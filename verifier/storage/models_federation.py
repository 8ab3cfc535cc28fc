"""Tables of federation (异地协查), SQLAlchemy 2 typed ORM: peers' trust state (no
personal data), the answers given to peers (the envelope sealed), the fragments peers
gave this deployment's checks (sealed), asks to peers to be made again, and the
per-peer rate buckets shared by every server process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from verifier.storage.models import Base
from verifier.storage.types import UtcDateTime


class FederationPeerRow(Base):
    __tablename__ = "federation_peers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    # Space-separated key ids (64 hex each), in the order they were pinned.
    key_ids: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_by: Mapped[str] = mapped_column(String(64))


class FederationAnswerRow(Base):
    __tablename__ = "federation_answers"

    requester: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_digest: Mapped[str] = mapped_column(String(64))
    envelope_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    seal_kid: Mapped[str] = mapped_column(String(64))
    release_seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FederationFragmentRow(Base):
    """A peer's fragment accepted for one of this deployment's checks (requester side).

    The envelope holds members' (masked) records: sealed, and NULL once the check's
    personal data is purged; the row stays as the provenance of the report's answers."""

    __tablename__ = "federation_fragments"

    verification_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("verifications.id"), primary_key=True
    )
    envelope_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    peer: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    release_seq: Mapped[int] = mapped_column(BigInteger)
    envelope_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    seal_kid: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FederationRetryRow(Base):
    """A 协查 to ask a peer again, leased to one process at a time like polls."""

    __tablename__ = "federation_retries"
    __table_args__ = (Index("ix_federation_retries_next_at", "next_at"),)

    verification_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("verifications.id"), primary_key=True
    )
    peer: Mapped[str] = mapped_column(String(64), primary_key=True)
    ask_request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Member indexes and source kinds, space-separated (ids, never personal data).
    members: Mapped[str] = mapped_column(Text)
    sources: Mapped[str] = mapped_column(Text)
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class FederationRateRow(Base):
    """One peer's token bucket for inbound 协查: tokens left as of ``updated_at``."""

    __tablename__ = "federation_rate"

    peer: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
