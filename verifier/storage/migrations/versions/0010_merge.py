"""Join the dynamic-management branches (roster, alerts, webhooks, batches) into one head.

Revision ID: 0010
Revises: 0006, 0007, 0008, 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0010"
down_revision = ("0006", "0007", "0008", "0009")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the four branches touch separate tables."""


def downgrade() -> None:
    """Nothing to undo."""
