"""Batches of checks and their items; each verification's terms (urgent, due date,
batch) for time limits and ListVerifications. A branch from 0005 (the
dynamic-management slices each add one).

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from verifier.storage.types import UtcDateTime

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("caller_system", sa.String(128), nullable=False),
        sa.Column("caller_user", sa.String(128), nullable=False),
        sa.Column("caller_role", sa.String(32), nullable=False),
        sa.Column("caller_region", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("completed_at", UtcDateTime, nullable=True),
        sa.UniqueConstraint("caller_system", "request_id", name="uq_batches_caller_system"),
    )
    op.create_table(
        "batch_items",
        sa.Column("batch_id", sa.String(36), sa.ForeignKey("batches.id"), primary_key=True),
        sa.Column("item_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("item_key", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("queued_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("verification_id", sa.String(36), nullable=True),
        # Field paths and descriptions of a refused item, or a denial's reason code:
        # never a value from the request.
        sa.Column("violations_json", sa.Text, nullable=False, server_default=""),
        sa.Column("reason", sa.String(64), nullable=False, server_default=""),
        # The validated request (with raw ID numbers), sealed; dropped once it started.
        sa.Column("request_sealed", sa.LargeBinary, nullable=True),
        sa.Column("request_key_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UtcDateTime, nullable=True),
    )
    op.create_index("ix_batch_items_claim", "batch_items", ["state", "queued_at"])
    op.create_index("ix_batch_items_batch_state", "batch_items", ["batch_id", "state"])
    op.create_table(
        "verification_terms",
        sa.Column(
            "verification_id", sa.String(36), sa.ForeignKey("verifications.id"), primary_key=True
        ),
        sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("due_date", sa.Date, nullable=True),
        sa.Column("due_at", UtcDateTime, nullable=True),
        sa.Column("batch_id", sa.String(36), nullable=True),
        sa.Column("overdue_flagged_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "ix_verification_terms_due", "verification_terms", ["overdue_flagged_at", "due_at"]
    )
    op.create_index("ix_verification_terms_batch", "verification_terms", ["batch_id"])
    # ListVerifications: one calling system's checks, newest first.
    op.create_index(
        "ix_verifications_system_created", "verifications", ["caller_system", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_verifications_system_created", table_name="verifications")
    op.drop_table("verification_terms")
    op.drop_table("batch_items")
    op.drop_table("batches")
