"""Shared bases for sealed report versions: a first version is compressed against its own
policy section (the region's parameters with their references, no personal data), kept
once in ``seal_bases`` for every report that has the same one.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from verifier.storage.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seal_bases",
        sa.Column("digest", sa.String(16), primary_key=True),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    # Reports sealed against a base do not open without it: a downgrade keeps them readable
    # only if they are re-sealed first, which this release does not do; refuse instead.
    bind = op.get_bind()
    used = bind.execute(sa.text("SELECT count(*) FROM seal_bases")).scalar_one()
    if used:
        raise RuntimeError("seal_bases holds bases sealed reports need; cannot downgrade")
    op.drop_table("seal_bases")
