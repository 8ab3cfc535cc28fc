"""Late sources and reuse: sealed records per outcome, poll leases, run leases, result cache.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("source_outcomes") as t:
        # Records are kept (sealed) so a later report version is built from the same data.
        t.add_column(sa.Column("records_sealed", sa.LargeBinary, nullable=True))
        t.add_column(sa.Column("records_key_id", sa.String(64), nullable=False, server_default=""))
        t.add_column(sa.Column("ticket_sealed", sa.LargeBinary, nullable=True))
        t.add_column(sa.Column("reused", sa.Boolean, nullable=False, server_default=sa.false()))
        t.add_column(sa.Column("fetched_at", _TS, nullable=True))
        t.add_column(sa.Column("due_at", _TS, nullable=True))
        t.add_column(
            sa.Column("overdue_flagged", sa.Boolean, nullable=False, server_default=sa.false())
        )
        t.add_column(sa.Column("next_poll_at", _TS, nullable=True))
        t.add_column(sa.Column("poll_attempts", sa.Integer, nullable=False, server_default="0"))
        t.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
        t.add_column(sa.Column("lease_until", _TS, nullable=True))
    op.create_index("ix_source_outcomes_due_polls", "source_outcomes", ["status", "next_poll_at"])
    with op.batch_alter_table("verifications") as t:
        t.add_column(sa.Column("run_owner", sa.String(64), nullable=True))
        # Later report versions name the original requester, as version 1 did.
        t.add_column(sa.Column("caller_role", sa.String(32), nullable=False, server_default=""))
        t.add_column(sa.Column("caller_region", sa.String(128), nullable=False, server_default=""))
        t.add_column(sa.Column("run_lease_until", _TS, nullable=True))
    op.create_index("ix_verifications_state_lease", "verifications", ["state", "run_lease_until"])
    op.create_table(
        "result_cache",
        sa.Column("subject_ref", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("adapter", sa.String(128), nullable=False),
        sa.Column("adapter_version", sa.String(64), nullable=False),
        sa.Column("as_of", _TS, nullable=True),
        sa.Column("fetched_at", _TS, nullable=False),
        sa.Column("records_sealed", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("result_cache")
    op.drop_index("ix_verifications_state_lease", "verifications")
    with op.batch_alter_table("verifications") as t:
        t.drop_column("run_lease_until")
        t.drop_column("run_owner")
        t.drop_column("caller_role")
        t.drop_column("caller_region")
    op.drop_index("ix_source_outcomes_due_polls", "source_outcomes")
    with op.batch_alter_table("source_outcomes") as t:
        for c in (
            "lease_until", "lease_owner", "poll_attempts", "next_poll_at", "overdue_flagged",
            "due_at", "fetched_at", "reused", "ticket_sealed", "records_key_id", "records_sealed",
        ):  # fmt: skip
            t.drop_column(c)
