"""`hedui keys backup` then `hedui keys restore` into an empty directory, on both
databases: with only the restored keys an old report verifies (and opens from the
database), and `hedui audit verify` checks the whole log and its signed checkpoints; a
wrong passphrase, a tampered backup and a directory with keys in it are clear refusals.
A token's keys: their public halves and references are backed up, and what they signed
verifies after a restore without the token."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pty
import select
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import CALLER, make_app, one_printed_report, run_cli, use_database_from_env
from tests.softhsm_helpers import SoftHsm, config_file, served_report, softhsm
from verifier.signing.jwks import parse_jwks
from verifier.signing.key_backup import read_key_directory
from verifier.signing.keystore import KeyStore

__all__ = ["softhsm"]

PASSPHRASE_VARIABLE = "HEDUI_TEST_BACKUP_PASSPHRASE"


async def stored_envelope(database_url: str, keys_dir: Path, vid: str) -> bytes:
    """The report as the service reads it back (sealed rows opened with ``keys_dir``)."""
    app = await make_app(database_url, keys_dir, {})
    try:
        return (await app.service.get_report(CALLER, vid, 0)).envelope
    finally:
        await app.aclose()


def tampered(backup: Path, out: Path) -> Path:
    doc = json.loads(backup.read_bytes())
    ct = bytearray(base64.b64decode(doc["ciphertext"]))
    ct[len(ct) // 2] ^= 0x80
    doc["ciphertext"] = base64.b64encode(bytes(ct)).decode()
    out.write_text(json.dumps(doc))
    return out


def test_restore_into_an_empty_directory_verifies_old_reports_and_the_whole_audit_log(
    database_url: str,
    keys_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_database_from_env(monkeypatch, database_url, keys_dir)
    vid = asyncio.run(one_printed_report(database_url, keys_dir))
    printed = (keys_dir.parent / "report.dsse.json").read_bytes()
    assert run_cli(capsys, "audit", "checkpoint", "--out", str(tmp_path / "cp"))[0] == 0
    monkeypatch.setenv(PASSPHRASE_VARIABLE, "a long enough backup passphrase")
    use_env = ("--passphrase-from", f"env:{PASSPHRASE_VARIABLE}")

    backup = tmp_path / "keys.backup"
    code, out, err = run_cli(capsys, "keys", "backup", "--out", str(backup), *use_env)
    assert code == 0 and "backed up" in out, err
    assert backup.stat().st_mode & 0o777 == 0o600
    code, _, err = run_cli(capsys, "keys", "backup", "--out", str(backup), *use_env)
    assert code == 1 and "refusing to overwrite" in err

    wrong = tmp_path / "wrong-passphrase"
    wrong.write_text("not the passphrase at all\n")
    restored = tmp_path / "restored"
    for given, refs, message in (
        (backup, ("--passphrase-from", f"file:{wrong}"), "wrong passphrase"),
        (tampered(backup, tmp_path / "bad.backup"), use_env, "altered or damaged"),
    ):
        code, _, err = run_cli(
            capsys, "keys", "restore", "--in", str(given), "--into", str(restored), *refs
        )
        assert code == 1 and message in err
        assert not restored.exists()

    restored.mkdir()  # an empty directory is taken
    code, out, err = run_cli(
        capsys, "keys", "restore", "--in", str(backup), "--into", str(restored), *use_env
    )
    assert code == 0 and "restored" in out, err
    code, _, err = run_cli(
        capsys, "keys", "restore", "--in", str(backup), "--into", str(restored), *use_env
    )
    assert code == 1 and "refusing to overwrite" in err

    shutil.rmtree(keys_dir)  # from here on, only the restored keys
    monkeypatch.setenv("HEDUI_KEYS_DIR", str(restored))
    jwks = tmp_path / "jwks.json"
    assert run_cli(capsys, "keys", "export", "--out", str(jwks))[0] == 0
    (tmp_path / "report.dsse.json").write_bytes(printed)
    code, out, err = run_cli(
        capsys, "report", "verify", str(tmp_path / "report.dsse.json"), "--keys", str(jwks)
    )
    assert code == 0 and "VERIFIED" in out, err
    code, out, err = run_cli(
        capsys, "audit", "verify", "--trusted-checkpoint", str(tmp_path / "cp")
    )
    assert code == 0 and "audit log verifies" in out and "signed checkpoints" in out, err
    assert asyncio.run(stored_envelope(database_url, restored, vid)) == printed


def test_a_token_key_is_backed_up_by_its_public_half_and_reference(
    tmp_path: Path,
    softhsm: SoftHsm,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database_url = "sqlite:///" + str(tmp_path / "hedui.db")
    keys_dir = tmp_path / "keys"
    hsm = softhsm.config(audit=False)
    cfg = str(config_file(tmp_path / "hedui.toml", database_url, keys_dir, hsm))
    assert run_cli(capsys, "--config", cfg, "db", "upgrade")[0] == 0
    assert run_cli(capsys, "--config", cfg, "keys", "hsm-generate")[0] == 0
    envelope, served = asyncio.run(served_report(database_url, keys_dir, hsm))
    signing = next(iter(parse_jwks(served)))

    monkeypatch.setenv(PASSPHRASE_VARIABLE, "a long enough backup passphrase")
    use_env = ("--passphrase-from", f"env:{PASSPHRASE_VARIABLE}")
    backup = str(tmp_path / "keys.backup")
    code, out, err = run_cli(capsys, "--config", cfg, "keys", "backup", "--out", backup, *use_env)
    assert code == 0 and "its private key is not" in out, err
    assert hsm.signing_key_label in out and softhsm.pin not in out

    restored = tmp_path / "restored"
    code, _, err = run_cli(
        capsys, "keys", "restore", "--in", backup, "--into", str(restored), *use_env
    )  # no configuration naming the token: the embedded default
    assert code == 0 and signing[:16] in out and hsm.token_label in out, err
    assert not list(restored.rglob(f"{signing}.pem"))
    monkeypatch.setenv("HEDUI_KEYS_DIR", str(restored))
    code, out, _ = run_cli(capsys, "keys", "export")
    assert code == 0 and signing in parse_jwks(out)
    (tmp_path / "r.json").write_bytes(envelope)
    (tmp_path / "jwks.json").write_text(out)
    code, out, err = run_cli(
        capsys, "report", "verify", str(tmp_path / "r.json"), "--keys", str(tmp_path / "jwks.json")
    )
    assert code == 0 and signing[:16] in out, err


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        (("--passphrase-from", "value:typed-on-the-command-line"), "must be env:NAME or file:PATH"),
        ((), "no terminal to ask for the passphrase"),  # tests have no terminal
        (("--passphrase-from", "env:HEDUI_TEST_UNSET_VARIABLE"), "is not set"),
    ],
)
def test_a_passphrase_is_never_an_argument(
    refs: tuple[str, ...],
    message: str,
    keys_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_database_from_env(monkeypatch, "sqlite:///" + str(tmp_path / "h.db"), keys_dir)
    monkeypatch.delenv("HEDUI_TEST_UNSET_VARIABLE", raising=False)
    assert run_cli(capsys, "keys", "generate")[0] == 0
    code, out, err = run_cli(capsys, "keys", "backup", "--out", str(tmp_path / "b"), *refs)
    assert code == 2 and message in err and "typed-on-the-command-line" not in out + err
    assert not (tmp_path / "b").exists()


def in_terminal(
    argv: list[str], env: dict[str, str], answers: list[tuple[bytes, bytes]]
) -> tuple[int, str]:
    """``hedui ARGV`` on a pseudo-terminal, typing each answer once its prompt is shown:
    its exit code and everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: hedui with the terminal as its controlling tty
        os.execve(sys.executable, [sys.executable, "-m", "verifier.cli.main", *argv], env)
    shown = b""
    for prompt, answer in answers:
        seen = len(shown)
        while prompt not in shown[seen:]:
            ready, _, _ = select.select([fd], [], [], 60)
            assert ready, shown
            shown += os.read(fd, 1024)
        os.write(fd, answer + b"\n")
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_the_passphrase_is_asked_on_the_terminal_without_echo(
    keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    KeyStore(keys_dir).ensure()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDUI_")}
    env |= {"HEDUI_KEYS_DIR": str(keys_dir), "HEDUI_DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}
    typed = b"typed at the prompt, not shown"
    backup = str(tmp_path / "keys.backup")

    asked = [(b"backup passphrase: ", typed), (b"again: ", typed + b"x")]
    code, shown = in_terminal(["keys", "backup", "--out", backup], env, asked)
    assert code == 2 and "the two passphrases differ" in shown and typed.decode() not in shown
    asked[1] = (b"again: ", typed)
    code, shown = in_terminal(["keys", "backup", "--out", backup], env, asked)
    assert code == 0 and "backed up" in shown and typed.decode() not in shown

    (tmp_path / "pass").write_bytes(typed + b"\n")
    code, _, err = run_cli(
        capsys, "keys", "restore", "--in", backup, "--into", str(tmp_path / "r"),
        "--passphrase-from", f"file:{tmp_path / 'pass'}",
    )  # fmt: skip
    assert code == 0, err
    assert read_key_directory(tmp_path / "r") == read_key_directory(keys_dir)
