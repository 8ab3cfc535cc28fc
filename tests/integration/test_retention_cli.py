"""`hedui retention status | run` against the configured database, on both databases: a
check done six years ago is due (its reports and source records, 370322's example
periods), `run` purges it, a second run finds nothing, and `hedui audit verify` and the
report's receipt against the printout kept before still pass."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.helpers import one_printed_report, use_database_from_env
from tests.helpers import run_cli as run
from verifier.storage.engine import open_database


@pytest.fixture
def env(database_url: str, keys_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    use_database_from_env(monkeypatch, database_url, keys_dir)

    async def seed() -> str:
        vid = await one_printed_report(database_url, keys_dir)
        # The check was done six years ago.
        db = open_database(database_url)
        try:
            async with db.write_sessions() as s:
                await s.execute(
                    text("UPDATE verifications SET updated_at = :at"),
                    {"at": datetime.now(UTC) - timedelta(days=6 * 366)},
                )
                await s.commit()
        finally:
            await db.dispose()
        return vid

    return asyncio.run(seed())


def test_status_run_and_the_audit_log_still_verifies(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "retention", "status")
    assert code == 0
    due = {tuple(line.split("│")[1:4]) for line in out.splitlines() if "│" in line}
    rows = {tuple(c.strip() for c in r) for r in due}
    assert ("reports (报告及核对请求)", "370322", "1") in rows
    assert ("source_records (来源记录)", "370322", "1") in rows

    code, out, _ = run(capsys, "retention", "run")
    assert code == 0 and "purged: 1 checks' reports (1 versions)" in out
    assert "1 checks' source records" in out
    code, out, _ = run(capsys, "retention", "run")
    assert code == 0 and "purged: 0 checks' reports" in out

    code, out, err = run(capsys, "audit", "verify", "--quiet")
    assert code == 0 and "verifies" in out, err
    code, out, _ = run(capsys, "audit", "key")
    key_file = tmp_path / "audit.vkey"
    key_file.write_text(out.splitlines()[0])
    receipt = tmp_path / "receipt.json"
    assert run(capsys, "audit", "receipt", env, "--out", str(receipt))[0] == 0
    code, out, _ = run(
        capsys,
        "audit",
        "verify-receipt",
        str(receipt),
        "--key-file",
        str(key_file),
        "--envelope",
        str(tmp_path / "report.dsse.json"),
    )
    assert code == 0 and "the envelope is the one" in out
