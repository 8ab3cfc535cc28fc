"""A heartbeat row the health probe commits to: health is SERVING only while a write
commits (a rolled-back probe passes on a full disk or a read-only database).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    beat = op.create_table(
        "store_heartbeat",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("beats", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(beat, [{"id": 1, "beats": 0}])


def downgrade() -> None:
    op.drop_table("store_heartbeat")
