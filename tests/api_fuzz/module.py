"""What each fuzz module (tests/integration/test_api_fuzz*.py) sets up alike: its one
database per backend.

Hypothesis' settings stay written out in each module's test: with ``derandomize`` the
examples are seeded from the source of the decorated function, decorators included, so
moving them here would change which examples every run tries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import migrated_database


@contextmanager
def module_database(kind: str, tmp: Path, pg_template: str | None) -> Iterator[str]:
    """The URL of a migrated database for one module's server: SQLite (``kind``
    "sqlite") under ``tmp``, else a fresh PostgreSQL database from the template, dropped
    when the module is done (skipped when PostgreSQL is not reachable, outside CI)."""
    urls = migrated_database(kind, tmp, pg_template)
    yield next(urls)
    for _ in urls:  # drops the PostgreSQL database
        pass
