"""Tables of federation (异地协查), SQLAlchemy 2 typed ORM: peers' trust state. No
personal data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
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
