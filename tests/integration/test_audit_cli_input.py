"""`hedui audit query` holds its filters to the API's formats (issue 12): a filter the
API refuses is refused here too, before the query writes its audit_read entry."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.fakes import synthetic_id
from tests.helpers import use_database_from_env
from verifier.cli.main import main
from verifier.storage.engine import open_database

ID = synthetic_id(seq=77)


@pytest.fixture
def url(database_url: str, keys_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    use_database_from_env(monkeypatch, database_url, keys_dir)
    return database_url


def entries(url: str) -> int:
    async def count() -> int:
        db = open_database(url)
        try:
            async with db.read_sessions() as s:
                return int(
                    (await s.execute(text("SELECT count(*) FROM audit_entries"))).scalar_one()
                )
        finally:
            await db.dispose()

    return asyncio.run(count())


@pytest.mark.parametrize(
    ("argv", "stdin", "field"),
    [
        (["--case", ID], "", "case_id"),
        (["--case", f"CASE-{ID[:17]}x"], "", "case_id"),
        (["--verification", ID], "", "verification_id"),
        (["--actor-user", f"u{ID}"], "", "actor_user"),
        (["--action", "released\n"], "", "action"),
        (["--subject-type", "resident_id"], ID[:5] + "\uff17" + ID[6:] + "\n", "subject.id_number"),
    ],
)
def test_a_filter_the_api_refuses_is_refused_and_nothing_is_written(
    url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    stdin: str,
    field: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    before = entries(url)
    code = main(["--log-level", "ERROR", "audit", "query", *argv])
    _, err = capsys.readouterr()
    assert code == 1 and field in err and ID not in err and ID[:17] not in err
    assert entries(url) == before
