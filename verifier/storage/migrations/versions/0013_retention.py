"""Retention (档案 and 安全保密): a report version's or a check's sealed personal data may be
purged once its region's period has run out, leaving the hash, release entry and summary;
and one lease per background job that only one process may run at a time (the purge).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from verifier.storage.types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite alters a column's nullability by copying the table; PostgreSQL in place.
    with op.batch_alter_table("reports") as batch:
        batch.alter_column("envelope_sealed", existing_type=sa.LargeBinary, nullable=True)
        batch.add_column(sa.Column("purged_at", UtcDateTime, nullable=True))
    with op.batch_alter_table("verifications") as batch:
        batch.alter_column("request_sealed", existing_type=sa.LargeBinary, nullable=True)
        batch.add_column(sa.Column("purged_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("records_purged_at", UtcDateTime, nullable=True))
    leases = op.create_table(
        "job_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False, server_default=""),
        sa.Column("until", UtcDateTime, nullable=False),
    )
    # The row exists from the start, so taking the lease is one conditional update.
    op.bulk_insert(
        leases, [{"name": "retention", "owner": "", "until": datetime(2000, 1, 1, tzinfo=UTC)}]
    )


def downgrade() -> None:
    op.drop_table("job_leases")
    with op.batch_alter_table("verifications") as batch:
        batch.drop_column("records_purged_at")
        batch.drop_column("purged_at")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("purged_at")
