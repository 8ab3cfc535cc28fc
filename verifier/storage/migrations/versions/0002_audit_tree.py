"""Audit Merkle tree, signed checkpoints, and append-only grants for the application role.

Adds the tree frontier to ``audit_head``, the append-only ``audit_tree_nodes`` and
``audit_checkpoints`` tables, and builds the tree over entries already in the log.

On PostgreSQL, the application's role (alembic attribute ``app_role``, else env
``HEDUI_APP_ROLE``, else ``hedui_app``) is created when missing and we may, and gets
SELECT/INSERT on the audit tables, UPDATE only on ``audit_head``, and no UPDATE, DELETE
or TRUNCATE on audit rows: a compromised application cannot rewrite history even with
the triggers out of the way, because only the owner could drop them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import logging
import os
import re

import sqlalchemy as sa
from alembic import context, op

from audit.merkle import TreeBuilder

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

DEFAULT_APP_ROLE = "hedui_app"
_NEW_APPEND_ONLY = ("audit_tree_nodes", "audit_checkpoints")
_AUDIT_ROWS = ("audit_entries", "audit_subjects", *_NEW_APPEND_ONLY)
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}", re.ASCII)
_BATCH = 5000

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"""
    for table in _NEW_APPEND_ONLY
    for verb in ("UPDATE", "DELETE")
] + [
    # The head moves forward only: a rewound or deleted head would hide removed entries
    # from a verifier that trusts it.
    """CREATE TRIGGER audit_head_no_rewind BEFORE UPDATE ON audit_head
        WHEN NEW.last_seq < OLD.last_seq OR NEW.id <> OLD.id
        BEGIN SELECT RAISE(ABORT, 'audit head only moves forward'); END""",
    """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
        BEGIN SELECT RAISE(ABORT, 'audit head only moves forward'); END""",
]

_PG_HEAD_FUNCTION = """
CREATE OR REPLACE FUNCTION hedui_audit_head_forward() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'UPDATE' OR NEW.last_seq < OLD.last_seq OR NEW.id <> OLD.id THEN
    RAISE EXCEPTION 'audit head only moves forward (% on %)', TG_OP, TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = [
    stmt
    for table in _NEW_APPEND_ONLY
    for stmt in (
        f"""CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION hedui_audit_append_only()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION hedui_audit_append_only()""",
    )
] + [
    """CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head
        FOR EACH ROW EXECUTE FUNCTION hedui_audit_head_forward()""",
    """CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
        FOR EACH STATEMENT EXECUTE FUNCTION hedui_audit_append_only()""",
]


def _build_tree_over_existing_entries(bind: sa.Connection) -> None:
    """Databases upgraded with entries in them get the same nodes appends would have written."""
    entries = sa.table(
        "audit_entries", sa.column("seq", sa.BigInteger), sa.column("leaf_hash", sa.LargeBinary)
    )
    nodes = sa.table(
        "audit_tree_nodes",
        sa.column("seq", sa.BigInteger),
        sa.column("level", sa.SmallInteger),
        sa.column("hash", sa.LargeBinary),
    )
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer),
        sa.column("last_seq", sa.BigInteger),
        sa.column("frontier", sa.LargeBinary),
    )
    tree = TreeBuilder()
    last = -1
    while True:
        rows = bind.execute(
            sa.select(entries.c.seq, entries.c.leaf_hash)
            .where(entries.c.seq > last)
            .order_by(entries.c.seq)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        batch: list[dict[str, object]] = []
        for seq, leaf in rows:
            if seq != tree.size:
                raise RuntimeError(
                    f"audit log has a gap at seq {tree.size}; run `hedui audit verify` first"
                )
            for level, _index, digest in tree.append_nodes(bytes(leaf))[1:]:
                batch.append({"seq": seq, "level": level, "hash": digest})
        if batch:
            bind.execute(sa.insert(nodes), batch)
        last = rows[-1][0]
    bind.execute(sa.update(head).where(head.c.id == 1).values(frontier=b"".join(tree.frontier)))


def _app_role() -> str:
    role = context.config.attributes.get("app_role") or os.environ.get(
        "HEDUI_APP_ROLE", DEFAULT_APP_ROLE
    )
    if not isinstance(role, str) or not _ROLE_NAME.fullmatch(role):
        raise RuntimeError("the application role name must be a lowercase SQL identifier")
    return role


def _grant_app_role(bind: sa.Connection) -> None:
    role = _app_role()
    exists = bind.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if exists is None:
        try:
            with bind.begin_nested():
                bind.execute(sa.text(f'CREATE ROLE "{role}" NOLOGIN'))
        except sa.exc.DBAPIError as exc:
            # Without CREATEROLE we cannot make it; the operator grants by hand then.
            log.warning(
                "cannot create role %s (%s); audit grants skipped", role, type(exc).__name__
            )
            return
    tables = ", ".join(_AUDIT_ROWS)
    for stmt in (
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {tables} FROM PUBLIC",
        f'REVOKE UPDATE, DELETE, TRUNCATE ON {tables} FROM "{role}"',
        f'GRANT SELECT, INSERT ON {tables} TO "{role}"',
        f'REVOKE DELETE, TRUNCATE ON audit_head FROM "{role}"',
        f'GRANT SELECT, UPDATE ON audit_head TO "{role}"',
    ):
        bind.execute(sa.text(stmt))


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    empty = "'\\x'::bytea" if postgres else "X''"
    op.add_column(
        "audit_head",
        sa.Column("frontier", sa.LargeBinary, nullable=False, server_default=sa.text(empty)),
    )
    op.create_table(
        "audit_tree_nodes",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    _build_tree_over_existing_entries(bind)
    if postgres:
        op.execute(_PG_HEAD_FUNCTION)
        for stmt in _PG_TRIGGERS:
            op.execute(stmt)
        _grant_app_role(bind)
    else:
        for stmt in _SQLITE_TRIGGERS:
            op.execute(stmt)


def downgrade() -> None:
    raise RuntimeError("the audit log is never dropped by a migration")
