"""Shared fixtures: every storage test runs on SQLite and on the real PostgreSQL.

PostgreSQL: a template database is migrated once per session; each test gets a fresh
copy (CREATE DATABASE … TEMPLATE), so tests never see each other's rows. Under
``CI=true`` a missing PostgreSQL fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from verifier.storage.migrate import upgrade

PG_ADMIN_URL = os.environ.get("HEDUI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_url(dbname: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """The name of a migrated template database, or None when PostgreSQL is absent."""
    try:
        conn = _admin()
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true and is not reachable: {exc}")
        yield None
        return
    name = f"hedui_tmpl_{uuid.uuid4().hex[:10]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(_pg_url(name))
    yield name
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_template: str | None
) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    yield from migrated_database(str(request.param), tmp_path, pg_template)


def migrated_database(
    kind: str, directory: Path, pg_template: str | None, name: str = "hedui.db"
) -> Iterator[str]:
    """The URL of one migrated, empty database: SQLite (``kind`` "sqlite") at
    ``directory``/``name``, else a fresh PostgreSQL copy of the template, dropped when the
    generator is run to its end (skipped when PostgreSQL is not reachable, outside CI)."""
    if kind == "sqlite":
        url = f"sqlite:///{directory}/{name}"
        upgrade(url)
        yield url
        return
    yield from _fresh_pg_database(pg_template)


@pytest.fixture
def postgres_url(pg_template: str | None) -> Iterator[str]:
    """A migrated, empty PostgreSQL database, for what only PostgreSQL has."""
    yield from _fresh_pg_database(pg_template)


def _fresh_pg_database(pg_template: str | None) -> Iterator[str]:
    if pg_template is None:
        pytest.skip("PostgreSQL not reachable (set CI=true to make this a failure)")
    name = f"hedui_t_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield _pg_url(name)
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
async def no_leaked_tasks() -> AsyncIterator[None]:
    import asyncio

    before = asyncio.all_tasks()
    yield
    leaked = [
        t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()
    ]
    assert not leaked, f"tasks left running: {[t.get_name() for t in leaked]}"
