"""Migration 0018 makes what the models describe for federated checks, on both
databases: the outcome columns naming the answering deployment and its fragment, and the
tables of kept fragments, retries and rate buckets (no drift between them); it also goes
down to 0017 and up again."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import verifier.storage.models_federation  # noqa: F401  (registers the tables)
from verifier.storage.engine import sync_url
from verifier.storage.migrate import alembic_config
from verifier.storage.models import Base

TABLES = {"federation_fragments", "federation_retries", "federation_rate"}
COLUMNS = {"deployment", "fragment_sha256"}


def _touches(diff: Any) -> bool:
    """Whether an autogenerate difference concerns what 0018 added."""
    text = repr(diff)
    return any(t in text for t in TABLES) or any(f"'{c}'" in text for c in COLUMNS)


def _drift(url: str) -> list[Any]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    return [d for d in diffs if _touches(d)]


def _schema(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            tables = set(insp.get_table_names())
            columns = {c["name"] for c in insp.get_columns("source_outcomes")}
    finally:
        engine.dispose()
    return tables, columns


def test_the_models_of_federated_checks_match_migration_0018(database_url: str) -> None:
    tables, columns = _schema(database_url)
    assert tables >= TABLES and columns >= COLUMNS
    assert _drift(database_url) == []


def test_migration_0018_goes_down_and_up_again(database_url: str) -> None:
    cfg = alembic_config(database_url)
    command.downgrade(cfg, "0017")
    tables, columns = _schema(database_url)
    assert not TABLES & tables and not COLUMNS & columns
    command.upgrade(cfg, "head")
    assert _drift(database_url) == []
