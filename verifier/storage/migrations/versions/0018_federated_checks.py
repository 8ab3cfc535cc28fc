"""Federated checks (异地协查, requester side): an outcome names the peer deployment that
answered it and the SHA-256 of the fragment holding the answer; the fragments accepted
are kept per check (sealed); asks to peers to be made again are kept and leased like
polls; and each peer's inbound rate is one token bucket shared by every process.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from verifier.storage.types import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_outcomes") as t:
        t.add_column(sa.Column("deployment", sa.String(64), nullable=False, server_default=""))
        t.add_column(sa.Column("fragment_sha256", sa.String(64), nullable=False, server_default=""))
    op.create_table(
        "federation_fragments",
        sa.Column(
            "verification_id", sa.String(36), sa.ForeignKey("verifications.id"), primary_key=True
        ),
        sa.Column("envelope_sha256", sa.String(64), primary_key=True),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("release_seq", sa.BigInteger, nullable=False),
        sa.Column("envelope_sealed", sa.LargeBinary, nullable=True),
        sa.Column("seal_kid", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "federation_retries",
        sa.Column(
            "verification_id", sa.String(36), sa.ForeignKey("verifications.id"), primary_key=True
        ),
        sa.Column("peer", sa.String(64), primary_key=True),
        sa.Column("ask_request_id", sa.String(64), primary_key=True),
        sa.Column("members", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("deadline_at", UtcDateTime, nullable=False),
        sa.Column("next_at", UtcDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UtcDateTime, nullable=True),
    )
    op.create_index("ix_federation_retries_next_at", "federation_retries", ["next_at"])
    op.create_table(
        "federation_rate",
        sa.Column("peer", sa.String(64), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("federation_rate")
    op.drop_index("ix_federation_retries_next_at", table_name="federation_retries")
    op.drop_table("federation_retries")
    op.drop_table("federation_fragments")
    with op.batch_alter_table("source_outcomes") as t:
        t.drop_column("fragment_sha256")
        t.drop_column("deployment")
