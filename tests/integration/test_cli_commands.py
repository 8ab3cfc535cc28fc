"""How `hedui` registers its commands: offline commands read no configuration, the others
refuse a bad one by name; `hedui check` and `policy explain` speak words, not codes."""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hedui.v1 import verification_pb2 as vpb

from verifier.cli.main import _parser, main
from verifier.cli.runtime import state_name
from verifier.signing.jwks import dumps_jwks
from verifier.signing.signer import ReportSigner

CASE = Path(__file__).parent / "policy_assess_cases" / "c01_three_members_issue_example"
GOLDEN = Path(__file__).parents[1] / "unit" / "golden" / "policy_test.toml"
REGION_FILE = Path(__file__).parents[2] / "verifier" / "policy" / "regions" / "370322.toml"

OFFLINE = {
    "report verify",
    "report show",
    "policy check",
    "policy explain",
    "policy assess",
    "audit verify-export",
    "audit verify-receipt",
    "certs init",
}


def _leaves(parser: argparse.ArgumentParser, path: str = "") -> dict[str, argparse.Namespace]:
    """Every runnable command, by its words, with the defaults it was registered with."""
    out: dict[str, argparse.Namespace] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out.update(_leaves(child, f"{path} {name}".strip()))
    if not out and path:
        out[path] = argparse.Namespace(**parser._defaults)
    return out


def test_every_command_is_registered_once_by_the_helper_and_offline_ones_are_marked() -> None:
    leaves = _leaves(_parser())
    assert len(leaves) > 40
    for words, d in leaves.items():
        # Exactly one handler: the helper sets both keys, one of them None.
        assert (d.fn is None) != (d.offline_fn is None), words
    offline = {w for w, d in leaves.items() if d.offline_fn is not None}
    assert offline >= OFFLINE
    assert not offline & {"serve", "check", "demo", "db upgrade", "audit verify", "keys generate"}


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "hedui.toml"
    path.write_text('[principals.sys-a]\nroles = ["wizard"]\nregions = ["37"]\n')
    return path


def _signed_report(tmp_path: Path) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    signed = ReportSigner(key).sign({"report_id": "rep-1", "version": 1})
    envelope = tmp_path / "report.dsse.json"
    envelope.write_bytes(signed.envelope)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(dumps_jwks([key.public_key()]))
    return envelope, jwks


def test_offline_commands_run_whatever_the_configuration_file_holds(
    tmp_path: Path, bad_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    envelope, jwks = _signed_report(tmp_path)
    not_toml = tmp_path / "broken.toml"
    not_toml.write_text("listen = [\n")
    for config in (bad_config, not_toml, tmp_path / "absent.toml"):
        args = ["--config", str(config)]
        assert main([*args, "report", "verify", str(envelope), "--keys", str(jwks)]) == 0
        assert "VERIFIED" in capsys.readouterr().out
        assert main([*args, "policy", "check", str(REGION_FILE)]) == 0
        pki = tmp_path / f"pki-{config.stem}"
        assert main([*args, "certs", "init", "--dir", str(pki), "--system", "sys-a"]) == 0
        assert (pki / "ca.crt").exists() or any(pki.iterdir())
        capsys.readouterr()


def test_server_commands_refuse_a_bad_configuration_naming_the_key(
    bad_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(bad_config), "serve"]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "principals.sys-a.roles" in err


def test_certs_init_reads_the_configuration_only_for_its_principals(
    tmp_path: Path, bad_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(bad_config), "certs", "init", "--dir", str(tmp_path / "p")]) == 2
    assert "principals.sys-a.roles" in capsys.readouterr().err


def test_check_shows_state_names_not_numbers() -> None:
    names = {state_name(v) for v in vpb.VerificationState.values()}
    assert {"RUNNING", "AWAITING_SOURCES", "DONE"} <= names
    assert not any(n.isdigit() for n in names)
    assert state_name(99) == "UNKNOWN(99)"


def test_policy_explain_names_asset_categories_in_chinese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["policy", "assess", "--household", str(CASE / "household.json")]
    args += ["--records", str(CASE / "records.json"), "--policy", str(GOLDEN)]
    assert main([*args, "--date", "2025-03-10", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    # An unsigned envelope: explain reads the payload (and says the signature is unchecked).
    payload = base64.b64encode(json.dumps(doc, ensure_ascii=False).encode()).decode()
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"payload": payload, "signatures": []}))
    assert main(["policy", "explain", str(report)]) == 0
    out = capsys.readouterr().out
    assert "银行存款、证券" in out
    assert "deposit" not in out and "securities" not in out
    assert "¥" in out


def test_every_source_has_one_chinese_label() -> None:
    from hedui_sdk import SourceKind
    from verifier.domain.outcomes import SOURCE_LABELS

    assert set(SOURCE_LABELS) == {k.value for k in SourceKind}
