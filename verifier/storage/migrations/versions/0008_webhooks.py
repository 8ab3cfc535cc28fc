"""Webhooks: the transactional outbox, deliveries per subscriber, attempts, disabled
subscribers. A branch from 0005 (the dynamic-management slices each add one).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from verifier.storage.types import UtcDateTime

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("dispatched_at", UtcDateTime, nullable=True),
    )
    op.create_index("ix_webhook_outbox_occurred_at", "webhook_outbox", ["occurred_at"])
    op.create_index(
        "ix_webhook_outbox_undispatched", "webhook_outbox", ["dispatched_at", "created_at"]
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("event_id", sa.String(36), sa.ForeignKey("webhook_outbox.id"), primary_key=True),
        sa.Column("subscriber", sa.String(63), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UtcDateTime, nullable=True),
        sa.Column("last_attempt_at", UtcDateTime, nullable=True),
        sa.Column("last_outcome", sa.String(32), nullable=False),
        sa.Column("delivered_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_index(
        "ix_webhook_deliveries_subscriber", "webhook_deliveries", ["subscriber", "state"]
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), sa.ForeignKey("webhook_outbox.id"), nullable=False),
        sa.Column("subscriber", sa.String(63), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("latency_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["event_id", "subscriber"])
    op.create_index("ix_webhook_attempts_subscriber_at", "webhook_attempts", ["subscriber", "at"])
    op.create_table(
        "webhook_disabled_subscribers",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("disabled_at", UtcDateTime, nullable=False),
        sa.Column("reason", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_disabled_subscribers")
    op.drop_index("ix_webhook_attempts_subscriber_at", "webhook_attempts")
    op.drop_index("ix_webhook_attempts_delivery", "webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_deliveries_subscriber", "webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_outbox_undispatched", "webhook_outbox")
    op.drop_index("ix_webhook_outbox_occurred_at", "webhook_outbox")
    op.drop_table("webhook_outbox")
