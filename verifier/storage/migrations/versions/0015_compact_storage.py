"""Less left behind by each check: a report version's summary is kept deflated (it repeats
one line per member × source: about 2 KB as JSON, 0.3 KB deflated, and every version of
every check has one); the audit log's subject index is on the reference alone, which
PostgreSQL's B-tree deduplication stores as one key per person.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_reports = sa.table(
    "reports",
    sa.column("verification_id", sa.String),
    sa.column("version", sa.Integer),
    sa.column("summary_json", sa.Text),
    sa.column("summary_deflated", sa.LargeBinary),
)


def upgrade() -> None:
    op.drop_index("ix_audit_subjects_ref_seq", table_name="audit_subjects")
    op.create_index("ix_audit_subjects_ref", "audit_subjects", ["subject_ref"])
    op.add_column("reports", sa.Column("summary_deflated", sa.LargeBinary, nullable=True))
    conn = op.get_bind()
    r = _reports.c
    rows = conn.execute(sa.select(r.verification_id, r.version, r.summary_json)).all()
    for vid, version, text in rows:
        conn.execute(
            _reports.update()
            .where(r.verification_id == vid, r.version == version)
            .values(summary_deflated=zlib.compress(text.encode(), 9))
        )
    with op.batch_alter_table("reports") as batch:
        batch.alter_column("summary_deflated", existing_type=sa.LargeBinary, nullable=False)
        batch.drop_column("summary_json")


def downgrade() -> None:
    op.drop_index("ix_audit_subjects_ref", table_name="audit_subjects")
    op.create_index("ix_audit_subjects_ref_seq", "audit_subjects", ["subject_ref", "seq"])
    op.add_column("reports", sa.Column("summary_json", sa.Text, nullable=True))
    conn = op.get_bind()
    r = _reports.c
    rows = conn.execute(sa.select(r.verification_id, r.version, r.summary_deflated)).all()
    for vid, version, packed in rows:
        conn.execute(
            _reports.update()
            .where(r.verification_id == vid, r.version == version)
            .values(summary_json=zlib.decompress(packed).decode())
        )
    with op.batch_alter_table("reports") as batch:
        batch.alter_column("summary_json", existing_type=sa.Text, nullable=False)
        batch.drop_column("summary_deflated")
