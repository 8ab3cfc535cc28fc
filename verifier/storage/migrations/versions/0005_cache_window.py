"""The assessment window a cached answer was given for: reuse only for the same window.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows cached before this revision have no window and are never reused: an answer
    # about one period must not stand in for another.
    op.add_column("result_cache", sa.Column("window_start", sa.Date, nullable=True))
    op.add_column("result_cache", sa.Column("window_end", sa.Date, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("result_cache") as batch:
        batch.drop_column("window_end")
        batch.drop_column("window_start")
