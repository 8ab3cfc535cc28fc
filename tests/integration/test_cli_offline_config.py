"""Offline commands (``report verify``, ``policy …``, ``audit verify-export``) need no
server configuration: a configuration named by ``HEDUI_CONFIG`` or refused by the
``HEDUI_*`` overrides stops the server commands, never them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.cli.main import main
from verifier.signing.jwks import dumps_jwks
from verifier.signing.signer import ReportSigner

REGION_FILE = Path(__file__).parents[2] / "verifier" / "policy" / "regions" / "370322.toml"
CASE = Path(__file__).parent / "policy_assess_cases" / "c01_three_members_issue_example"
GOLDEN = Path(__file__).parents[1] / "unit" / "golden" / "policy_test.toml"


@pytest.fixture(params=["unknown key in the file", "absent file", "bad override"])
def broken_environment(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A configuration every server command refuses; returns the key its message names."""
    if request.param == "unknown key in the file":
        path = tmp_path / "hedui.toml"
        path.write_text('[sources.tax]\nbase_url = "http://tax.example"\ntimout = 3\n')
        monkeypatch.setenv("HEDUI_CONFIG", str(path))
        return "sources.tax.timout: unknown key"
    if request.param == "absent file":
        monkeypatch.setenv("HEDUI_CONFIG", str(tmp_path / "absent.toml"))
        return "absent.toml"
    monkeypatch.delenv("HEDUI_CONFIG", raising=False)
    monkeypatch.setenv("HEDUI_SOURCES__TAX__TIMOUT", "3")
    return "HEDUI_SOURCES__TAX__TIMOUT: unknown key"


def test_server_commands_refuse_the_broken_configuration(
    broken_environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify"]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and broken_environment in err
    assert "Traceback" not in err


def test_offline_commands_run_whatever_the_environment_says(
    broken_environment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Ed25519PrivateKey.generate()
    envelope = tmp_path / "report.dsse.json"
    envelope.write_bytes(ReportSigner(key).sign({"report_id": "rep-1", "version": 1}).envelope)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(dumps_jwks([key.public_key()]))

    assert main(["report", "verify", str(envelope), "--keys", str(jwks)]) == 0
    assert "VERIFIED" in capsys.readouterr().out

    assert main(["policy", "check", str(REGION_FILE)]) == 0
    capsys.readouterr()
    args = ["policy", "assess", "--household", str(CASE / "household.json")]
    args += ["--records", str(CASE / "records.json"), "--policy", str(GOLDEN)]
    assert main([*args, "--date", "2025-03-10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["assessments"]

    # Not an export: the command says so itself (1), it does not stop at the configuration (2).
    export = tmp_path / "export.jsonl"
    export.write_text("{}\n")
    assert main(["audit", "verify-export", str(export), "--key", "hedui+00000000+AAAA"]) == 1
    err = capsys.readouterr().err
    assert "configuration" not in err and broken_environment not in err
