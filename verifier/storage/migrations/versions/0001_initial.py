"""Verifications, reports and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)

# Append-only: the application can insert audit rows but never change or remove them.
_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"""
    for table in ("audit_entries", "audit_subjects")
    for verb in ("UPDATE", "DELETE")
]

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION hedui_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit log is append-only (% on %)', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = [
    stmt
    for table in ("audit_entries", "audit_subjects")
    for stmt in (
        f"""CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION hedui_audit_append_only()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION hedui_audit_append_only()""",
    )
]


def upgrade() -> None:
    op.create_table(
        "verifications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("caller_system", sa.String(128), nullable=False),
        sa.Column("caller_user", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False, index=True),
        sa.Column("authorization_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("purposes", sa.String(256), nullable=False),
        sa.Column("member_count", sa.Integer, nullable=False),
        sa.Column("source_count", sa.Integer, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("completeness", sa.String(16), nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("request_sealed", sa.LargeBinary, nullable=False),
        sa.Column("request_key_id", sa.String(64), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.UniqueConstraint("caller_system", "request_id", name="uq_verifications_caller_system"),
    )
    op.create_table(
        "source_outcomes",
        sa.Column(
            "verification_id", sa.String(36), sa.ForeignKey("verifications.id"), primary_key=True
        ),
        sa.Column("member_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("adapter", sa.String(128), nullable=False),
        sa.Column("adapter_version", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("as_of", _TS, nullable=True),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "reports",
        sa.Column(
            "verification_id", sa.String(36), sa.ForeignKey("verifications.id"), primary_key=True
        ),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("report_id", sa.String(36), nullable=False, unique=True),
        sa.Column("envelope_sealed", sa.LargeBinary, nullable=False),
        sa.Column("data_key_id", sa.String(64), nullable=False),
        sa.Column("envelope_sha256", sa.String(64), nullable=False),
        sa.Column("previous_sha256", sa.String(64), nullable=False),
        sa.Column("signing_key_id", sa.String(64), nullable=False),
        sa.Column("completeness", sa.String(16), nullable=False),
        sa.Column("release_seq", sa.BigInteger, nullable=False),
        sa.Column("summary_json", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.String(32), nullable=False, index=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("actor_system", sa.String(128), nullable=False, index=True),
        sa.Column("actor_user", sa.String(128), nullable=False, index=True),
        sa.Column("action", sa.String(64), nullable=False, index=True),
        sa.Column("case_id", sa.String(64), nullable=False, index=True),
        sa.Column("verification_id", sa.String(64), nullable=False, index=True),
        sa.Column("outcome", sa.String(32), nullable=False),
    )
    op.create_table(
        "audit_subjects",
        sa.Column(
            "seq",
            sa.BigInteger,
            sa.ForeignKey("audit_entries.seq"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("subject_ref", sa.String(64), primary_key=True),
    )
    op.create_index("ix_audit_subjects_ref_seq", "audit_subjects", ["subject_ref", "seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "last_seq": -1, "chain_hash": bytes(32)}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for stmt in _PG_TRIGGERS:
            op.execute(stmt)
    else:
        for stmt in _SQLITE_TRIGGERS:
            op.execute(stmt)


def downgrade() -> None:
    raise RuntimeError("the audit log is never dropped by a migration")
