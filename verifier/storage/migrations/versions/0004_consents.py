"""授权书 registry: consents, who they cover, and their history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from verifier.storage.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Per-user volume limits count a user's recent checks.
    op.create_index(
        "ix_verifications_caller_created",
        "verifications",
        ["caller_system", "caller_user", "created_at"],
    )
    op.create_table(
        "consents",
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        # HMAC of the applicant's ID: "the same household" without storing who it is.
        sa.Column("household_ref", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sources", sa.String(512), nullable=False),
        sa.Column("purposes", sa.String(256), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=True),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("superseded_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("registered_at", UtcDateTime, nullable=False),
        # Subjects and signatories with names and ID numbers, sealed.
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_consents_household", "consents", ["region", "household_ref", "state"])
    op.create_table(
        "consent_subjects",
        sa.Column("number", sa.String(64), sa.ForeignKey("consents.number"), primary_key=True),
        sa.Column("subject_ref", sa.String(64), primary_key=True),
    )
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "number", sa.String(64), sa.ForeignKey("consents.number"), nullable=False, index=True
        ),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("actor_system", sa.String(128), nullable=False),
        sa.Column("actor_user", sa.String(128), nullable=False),
        sa.Column("detail", sa.String(512), nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_verifications_caller_created", "verifications")
    op.drop_table("consent_events")
    op.drop_table("consent_subjects")
    op.drop_index("ix_consents_household", "consents")
    op.drop_table("consents")
