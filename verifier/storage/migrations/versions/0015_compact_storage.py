"""Less left behind by each check, and a summary that is personal data kept as such: a
report version's summary (each member's status per source — a disability certificate
found is health data — and the household's income and asset totals) is sealed like the
envelope (compressed, so about 0.3 KB instead of 2 KB of JSON) and purged with it; rows
written before keep their plain summary until their retention purge. The audit log's
subject index is on the reference alone, which PostgreSQL's B-tree deduplication stores
as one key per person.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_subjects_ref_seq", table_name="audit_subjects")
    op.create_index("ix_audit_subjects_ref", "audit_subjects", ["subject_ref"])
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("summary_sealed", sa.LargeBinary, nullable=True))
        batch.alter_column("summary_json", existing_type=sa.Text, nullable=True)


def downgrade() -> None:
    # A sealed summary cannot be written back as plain JSON without the data keys.
    bind = op.get_bind()
    sealed = bind.execute(
        sa.text("SELECT count(*) FROM reports WHERE summary_sealed IS NOT NULL")
    ).scalar_one()
    if sealed:
        raise RuntimeError("reports hold sealed summaries; cannot downgrade past 0015")
    bind.execute(sa.text("UPDATE reports SET summary_json = '{}' WHERE summary_json IS NULL"))
    with op.batch_alter_table("reports") as batch:
        batch.alter_column("summary_json", existing_type=sa.Text, nullable=False)
        batch.drop_column("summary_sealed")
    op.drop_index("ix_audit_subjects_ref", table_name="audit_subjects")
    op.create_index("ix_audit_subjects_ref_seq", "audit_subjects", ["subject_ref", "seq"])
