"""`hedui audit …` against the configured database, on both databases: verify (with a
trusted checkpoint), key, checkpoint, query, export → verify-export, prove, receipt →
verify-receipt; and a tampered log or export names the first bad seq."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.helpers import APPLICANT_ID, one_printed_report, use_database_from_env
from tests.helpers import run_cli as run
from verifier.storage.engine import open_database


@pytest.fixture
def env(database_url: str, keys_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    use_database_from_env(monkeypatch, database_url, keys_dir)
    return database_url, asyncio.run(one_printed_report(database_url, keys_dir))


def test_verify_checkpoint_export_and_receipt_round_trip(
    env: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, vid = env
    code, out, _ = run(capsys, "audit", "key")
    assert code == 0 and out.startswith("hedui.local/audit+")
    key_file = tmp_path / "audit.vkey"
    key_file.write_text(out.splitlines()[0])

    code, out, _ = run(capsys, "audit", "checkpoint", "--out", str(tmp_path / "cp"))
    assert code == 0
    code, out, err = run(
        capsys, "audit", "verify", "--quiet", "--trusted-checkpoint", str(tmp_path / "cp")
    )
    assert code == 0 and "verifies" in out, err

    export = tmp_path / "export.jsonl"
    assert run(capsys, "audit", "export", "--out", str(export))[0] == 0
    code, out, _ = run(capsys, "audit", "verify-export", str(export), "--key-file", str(key_file))
    assert code == 0 and "export verifies" in out
    lines = export.read_bytes().splitlines()
    doc = json.loads(lines[1])
    doc["body"]["case_id"] = "CASE-X"
    export.write_bytes(b"\n".join([lines[0], json.dumps(doc).encode(), *lines[2:]]) + b"\n")
    code, _, err = run(capsys, "audit", "verify-export", str(export), "--key-file", str(key_file))
    assert code == 1 and "at seq 0" in err

    receipt = tmp_path / "receipt.json"
    assert run(capsys, "audit", "receipt", vid, "--out", str(receipt))[0] == 0
    envelope = tmp_path / "report.dsse.json"  # keys_dir is tmp_path / "keys"
    code, out, _ = run(
        capsys,
        "audit",
        "verify-receipt",
        str(receipt),
        "--key-file",
        str(key_file),
        "--envelope",
        str(envelope),
    )
    assert code == 0 and "the envelope is the one" in out
    bad = tmp_path / "bad.dsse.json"
    bad.write_bytes(envelope.read_bytes() + b"\n")
    code, _, err = run(
        capsys,
        "audit",
        "verify-receipt",
        str(receipt),
        "--key-file",
        str(key_file),
        "--envelope",
        str(bad),
    )
    assert code == 1

    code, out, _ = run(capsys, "audit", "prove", "--seq", "0")
    assert code == 0 and json.loads(out)["seq"] == 0
    code, out, _ = run(capsys, "audit", "prove", "--old", "1")
    assert code == 0 and json.loads(out)["old_size"] == 1


def test_query_by_subject_reads_the_number_from_stdin(
    env: tuple[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(APPLICANT_ID + "\n"))
    code, out, _ = run(capsys, "audit", "query", "--subject-type", "resident_id")
    assert code == 0
    actions = [json.loads(line)["action"] for line in out.splitlines()]
    assert "released" in actions and actions[-1] == "audit_read"
    assert APPLICANT_ID not in out
    code, out, _ = run(
        capsys, "audit", "query", "--action", "released", "--since", "2000-01-01T00:00:00Z"
    )
    assert code == 0 and len(out.splitlines()) == 1


def test_verify_names_the_first_bad_seq(
    env: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = env

    async def tamper() -> None:
        db = open_database(url)
        try:
            async with db.write_engine.begin() as conn:
                if db.sqlite:
                    await conn.execute(text("DROP TRIGGER audit_entries_no_update"))
                else:
                    await conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
                await conn.execute(text("UPDATE audit_entries SET outcome = 'x' WHERE seq = 1"))
        finally:
            await db.dispose()

    asyncio.run(tamper())
    code, _, err = run(capsys, "audit", "verify", "--quiet")
    assert code == 1 and "at seq 1" in err
