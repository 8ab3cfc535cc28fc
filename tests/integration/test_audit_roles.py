"""PostgreSQL only: the application's role may read and append audit rows and advance the
head, but PostgreSQL itself refuses its UPDATE, DELETE and TRUNCATE on audit rows with a
permission error — before any trigger runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from psycopg import errors

from tests.conftest import PG_ADMIN_URL
from verifier.storage.migrate import alembic_config

pytestmark = pytest.mark.postgres


def _url(dbname: str, user: str = "postgres") -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    scheme, _, rest = base.partition("://")
    host = rest.split("@", 1)[-1]
    return f"{scheme}://{user}@{host}/{dbname}"


@pytest.fixture
def app_db() -> Iterator[tuple[str, str]]:
    """A fresh database migrated with a new application role; both dropped afterwards."""
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL not reachable")
    tag = uuid.uuid4().hex[:10]
    dbname, role = f"hedui_roles_{tag}", f"hedui_app_{tag}"
    with admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        cfg = alembic_config(_url(dbname))
        cfg.attributes["app_role"] = role
        command.upgrade(cfg, "head")
        yield dbname, role
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_the_app_role_can_append_but_not_change_audit_rows(app_db: tuple[str, str]) -> None:
    dbname, role = app_db
    with psycopg.connect(_url(dbname, role), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_entries (seq, ts, body, leaf_hash, chain_hash, actor_system,"
            " actor_user, action, case_id, verification_id, outcome)"
            " VALUES (0, 't', '\\x7b7d', %s, %s, 's', 'u', 'a', '', '', 'o')",
            (bytes(32), bytes(32)),
        )
        conn.execute("INSERT INTO audit_subjects (seq, subject_ref) VALUES (0, 'r')")
        conn.execute(
            "INSERT INTO audit_tree_nodes (seq, level, hash) VALUES (1, 1, %s)", (bytes(32),)
        )
        conn.execute(
            "INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (1, %s, 'n', 't')",
            (bytes(32),),
        )
        conn.execute("UPDATE audit_head SET last_seq = 0 WHERE id = 1")
        assert conn.execute("SELECT count(*) FROM audit_entries").fetchone() == (1,)
        for table in ("audit_entries", "audit_subjects", "audit_tree_nodes", "audit_checkpoints"):
            for statement in (
                f"UPDATE {table} SET seq = seq"
                if table != "audit_checkpoints"
                else f"UPDATE {table} SET size = size",
                f"DELETE FROM {table}",
                f"TRUNCATE {table} CASCADE",
            ):
                with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
                    conn.execute(statement)
        for statement in ("DELETE FROM audit_head", "TRUNCATE audit_head"):
            with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(statement)


def test_the_owner_is_still_stopped_by_the_triggers(app_db: tuple[str, str]) -> None:
    dbname, _ = app_db
    with psycopg.connect(_url(dbname), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_tree_nodes (seq, level, hash) VALUES (1, 1, %s)", (bytes(32),)
        )
        for statement in (
            "UPDATE audit_tree_nodes SET hash = hash",
            "DELETE FROM audit_tree_nodes",
            "TRUNCATE audit_tree_nodes",
            "UPDATE audit_head SET last_seq = -2",
        ):
            with pytest.raises(
                errors.InsufficientPrivilege, match=r"append-only|only moves forward"
            ):
                conn.execute(statement)
