"""Changes between checks and alerts (监测预警): household checks, comparisons to make,
signed change documents, alerts and the outreach ledger with their history. A branch
from 0005 (the dynamic-management slices each add one).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from verifier.storage.types import UtcDateTime

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "household_checks",
        sa.Column(
            "verification_id", sa.String(36), sa.ForeignKey("verifications.id"), primary_key=True
        ),
        sa.Column("region", sa.String(6), nullable=False),
        # HMACs only: the applicant's subject_ref and each member's.
        sa.Column("household_ref", sa.String(64), nullable=False),
        sa.Column("member_refs", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        # HMAC of the roster entry a re-check came from (empty for other checks).
        sa.Column("roster_ref", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_household_checks_household",
        "household_checks",
        ["region", "household_ref", "created_at"],
    )
    op.create_index(
        "ix_household_checks_roster", "household_checks", ["region", "roster_ref", "created_at"]
    )
    op.create_table(
        "change_comparisons",
        sa.Column(
            "verification_id", sa.String(36), sa.ForeignKey("verifications.id"), primary_key=True
        ),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("due_at", UtcDateTime, nullable=False),
        sa.Column("reason", sa.String(256), nullable=False, server_default=""),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=True),
    )
    op.create_index("ix_change_comparisons_due", "change_comparisons", ["state", "due_at"])
    op.create_table(
        "change_documents",
        sa.Column(
            "verification_id", sa.String(36), sa.ForeignKey("verifications.id"), primary_key=True
        ),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("household_ref", sa.String(64), nullable=False),
        sa.Column("previous_verification_id", sa.String(36), nullable=False),
        sa.Column("previous_version", sa.Integer, nullable=False),
        sa.Column("previous_report_id", sa.String(36), nullable=False),
        sa.Column("previous_sha256", sa.String(64), nullable=False),
        sa.Column("current_report_id", sa.String(36), nullable=False),
        sa.Column("current_sha256", sa.String(64), nullable=False),
        # DSSE envelope of a change document: masked IDs and keyed refs, no raw personal data.
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("envelope_sha256", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("codes", sa.String(1024), nullable=False),
        sa.Column("household_figures_compared", sa.Boolean, nullable=False),
        sa.Column("withheld", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("record_seq", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_change_documents_household",
        "change_documents",
        ["region", "household_ref", "created_at"],
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("dedup_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(48), nullable=False),
        sa.Column("region", sa.String(6), nullable=False, index=True),
        sa.Column("risk_level", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False, server_default=""),
        sa.Column("household_ref", sa.String(64), nullable=False, server_default=""),
        sa.Column("subject_ref", sa.String(64), nullable=False, server_default=""),
        sa.Column("verification_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("report_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("act_by", sa.Date, nullable=True),
        sa.Column("deadline", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("resolution", sa.String(16), nullable=False, server_default=""),
        sa.Column("referred_program", sa.String(32), nullable=False, server_default=""),
        sa.Column("overdue_marked_at", UtcDateTime, nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("person_sealed", sa.LargeBinary, nullable=True),
        sa.Column("person_key_id", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_alerts_created", "alerts", ["created_at", "id"])
    op.create_index("ix_alerts_household", "alerts", ["household_ref"])
    op.create_index("ix_alerts_open_deadline", "alerts", ["state", "deadline"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "alert_id", sa.String(36), sa.ForeignKey("alerts.id"), nullable=False, index=True
        ),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("actor_system", sa.String(128), nullable=False),
        sa.Column("actor_user", sa.String(128), nullable=False),
        sa.Column("detail", sa.String(512), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_events")
    op.drop_index("ix_alerts_open_deadline", "alerts")
    op.drop_index("ix_alerts_household", "alerts")
    op.drop_index("ix_alerts_created", "alerts")
    op.drop_table("alerts")
    op.drop_index("ix_change_documents_household", "change_documents")
    op.drop_table("change_documents")
    op.drop_index("ix_change_comparisons_due", "change_comparisons")
    op.drop_table("change_comparisons")
    op.drop_index("ix_household_checks_roster", "household_checks")
    op.drop_index("ix_household_checks_household", "household_checks")
    op.drop_table("household_checks")
