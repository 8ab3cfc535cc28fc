"""Tables of federation (异地协查), SQLAlchemy 2 typed ORM: peers' trust state (no
personal data) and the answers given to peers (the envelope sealed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, String, Text
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
