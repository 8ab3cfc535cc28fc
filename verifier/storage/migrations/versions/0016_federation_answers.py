"""Federation answers (异地协查): the signed fragment this deployment gave a peer for one
of its requests, kept by (requester, request id) so that a retry gets the same answer;
sealed, since its records are personal data.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from verifier.storage.types import UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_answers",
        sa.Column("requester", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("envelope_sealed", sa.LargeBinary, nullable=False),
        sa.Column("seal_kid", sa.String(64), nullable=False),
        sa.Column("release_seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("federation_answers")
