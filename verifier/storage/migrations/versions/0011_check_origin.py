"""What started each check (its origin: interactive, batch, roster), so the per-user
volume limit counts interactive checks only; and re-checks asked for now: a re-check
job is named by its check's request id (one per entry and cycle, one per request of
staff), may be on demand and urgent.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Checks from before are counted as interactive, as they were.
    op.add_column(
        "verification_terms",
        sa.Column("origin", sa.String(16), nullable=False, server_default="interactive"),
    )
    # SQLite alters a constraint by copying the table; PostgreSQL in place.
    with op.batch_alter_table("recheck_jobs") as batch:
        batch.add_column(
            sa.Column("on_demand", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()))
        # The request id is derived from (entry, cycle) for a cycle's job and from (entry,
        # system, request id) for one asked for now: unique, it keeps both to one job.
        batch.drop_constraint("uq_recheck_jobs_entry_id", type_="unique")
        batch.drop_index("ix_recheck_jobs_request")
        batch.create_index("ix_recheck_jobs_request", ["request_id"], unique=True)
        batch.create_index("ix_recheck_jobs_entry_cycle", ["entry_id", "cycle_due"])


def downgrade() -> None:
    with op.batch_alter_table("recheck_jobs") as batch:
        batch.drop_index("ix_recheck_jobs_entry_cycle")
        batch.drop_index("ix_recheck_jobs_request")
        batch.create_index("ix_recheck_jobs_request", ["request_id"])
        batch.create_unique_constraint("uq_recheck_jobs_entry_id", ["entry_id", "cycle_due"])
        batch.drop_column("urgent")
        batch.drop_column("on_demand")
    op.drop_column("verification_terms", "origin")
