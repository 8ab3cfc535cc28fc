"""The recipient roster (动态管理): entries with their sealed household, the keyed
subject references of their members, and the re-check jobs (one per entry and cycle).
A branch from 0005 (the dynamic-management slices each add one).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from verifier.storage.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roster_entries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("household_ref", sa.String(64), nullable=False),
        sa.Column("programs", sa.String(128), nullable=False),
        sa.Column("roster_class", sa.String(32), nullable=False),
        sa.Column("authorization_number", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(64), nullable=False),
        sa.Column("hukou", sa.String(8), nullable=False),
        sa.Column("member_count", sa.Integer, nullable=False),
        # Keyed (HMAC) digest of the imported content: it holds ID numbers.
        sa.Column("content_digest", sa.String(64), nullable=False),
        sa.Column("imported_check_date", sa.Date, nullable=True),
        sa.Column("checked_verification_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("checked_date", sa.Date, nullable=True),
        sa.Column("checked_at", UtcDateTime, nullable=True),
        sa.Column("checked_outcome", sa.String(16), nullable=False, server_default=""),
        sa.Column("next_due_date", sa.Date, nullable=True),
        sa.Column("cycle_months", sa.Integer, nullable=True),
        sa.Column("cycle_reference", sa.String(256), nullable=False, server_default=""),
        sa.Column("cycle_example", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("owner_system", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        # Members and declaration, with ID numbers and names: AES-256-GCM.
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.UniqueConstraint("region", "household_ref", name="uq_roster_entries_region"),
    )
    op.create_index("ix_roster_entries_due", "roster_entries", ["next_due_date"])
    op.create_table(
        "roster_subjects",
        sa.Column("entry_id", sa.String(36), sa.ForeignKey("roster_entries.id"), primary_key=True),
        sa.Column("subject_ref", sa.String(64), primary_key=True),
    )
    op.create_index("ix_roster_subjects_ref", "roster_subjects", ["subject_ref"])
    op.create_table(
        "recheck_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("household_ref", sa.String(64), nullable=False),
        sa.Column("cycle_due", sa.Date, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("verification_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("reason", sa.String(256), nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("not_before", UtcDateTime, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        # One job per entry and cycle: however many replicas enqueue it.
        sa.UniqueConstraint("entry_id", "cycle_due", name="uq_recheck_jobs_entry_id"),
    )
    op.create_index("ix_recheck_jobs_state", "recheck_jobs", ["state", "lease_until"])
    # Change detection finds the roster entry of a re-check by its request id.
    op.create_index("ix_recheck_jobs_request", "recheck_jobs", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_recheck_jobs_request", "recheck_jobs")
    op.drop_index("ix_recheck_jobs_state", "recheck_jobs")
    op.drop_table("recheck_jobs")
    op.drop_index("ix_roster_subjects_ref", "roster_subjects")
    op.drop_table("roster_subjects")
    op.drop_index("ix_roster_entries_due", "roster_entries")
    op.drop_table("roster_entries")
