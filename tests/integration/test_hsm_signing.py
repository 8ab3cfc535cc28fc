"""Signing keys in a SoftHSM2 token through PKCS#11, on both databases: `hedui keys
hsm-generate` makes them, a real gRPC server signs reports with the token's key (the
private key nowhere on disk) that verify with the JWKS it serves and `keys export`
writes, audit checkpoints are signed by the token's audit key and `hedui audit verify`
passes; an imported file key keeps its key id; a wrong PIN or a missing key is a clear
error that never shows the PIN."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.checkpoint import open_note
from audit.checkpointer import DEFAULT_ORIGIN
from tests.helpers import run_cli
from tests.softhsm_helpers import PIN_VARIABLE, SoftHsm, config_file, served_report, softhsm
from verifier.service.auditing import verifier_keys_for
from verifier.signing.dsse import pae, verify_envelope
from verifier.signing.jwks import key_id, parse_jwks
from verifier.signing.keystore import KeyStore
from verifier.signing.pkcs11_keys import HsmError, Pkcs11Settings, Pkcs11Token

__all__ = ["softhsm"]


def hsm_public(capsys: pytest.CaptureFixture[str], cfg: Path, kind: str) -> Ed25519PublicKey:
    code, out, err = run_cli(capsys, "--config", str(cfg), "keys", "hsm-generate", "--kind", kind)
    assert code == 0, err
    (pub,) = (cfg.parent / "keys" / kind).glob("*.pub")
    key = KeyStore(cfg.parent / "keys")._public(pub)
    assert key_id(key)[:16] in out
    return key


def ed25519_signature_by(envelope: bytes, key: Ed25519PublicKey) -> None:
    """The envelope holds a signature by ``key`` that verifies over DSSE's PAE."""
    env = json.loads(envelope)
    (sig,) = [s for s in env["signatures"] if s["keyid"] == key_id(key)]
    key.verify(
        base64.b64decode(sig["sig"]), pae(env["payloadType"], base64.b64decode(env["payload"]))
    )


def test_a_server_signs_through_softhsm_and_its_reports_and_checkpoints_verify(
    database_url: str,
    tmp_path: Path,
    softhsm: SoftHsm,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys_dir = tmp_path / "keys"
    hsm = softhsm.config()
    cfg = config_file(tmp_path / "hedui.toml", database_url, keys_dir, hsm)
    signing, audit = hsm_public(capsys, cfg, "signing"), hsm_public(capsys, cfg, "audit")
    # Making the key twice under one label is refused: the first stays the key.
    code, _, err = run_cli(capsys, "--config", str(cfg), "keys", "hsm-generate")
    assert code == 2 and "already holds a key" in err

    envelope, jwks = asyncio.run(served_report(database_url, keys_dir, hsm))
    assert key_id(signing) in parse_jwks(jwks)
    assert verify_envelope(envelope, parse_jwks(jwks)).document["report_id"]
    ed25519_signature_by(envelope, signing)
    assert not list(keys_dir.rglob(f"{key_id(signing)}.pem"))  # no private key on disk

    code, out, _ = run_cli(capsys, "--config", str(cfg), "keys", "export")
    assert code == 0 and next(iter(parse_jwks(out))) == key_id(signing)  # the active one first

    code, out, err = run_cli(
        capsys, "--config", str(cfg), "audit", "checkpoint", "--out", str(tmp_path / "cp")
    )
    assert code == 0, err
    (by_token,) = verifier_keys_for(DEFAULT_ORIGIN, [audit])
    assert open_note((tmp_path / "cp").read_bytes(), by_token)
    code, out, err = run_cli(capsys, "--config", str(cfg), "audit", "verify", "--quiet")
    assert code == 0 and "audit log verifies" in out, err
    code, out, _ = run_cli(capsys, "--config", str(cfg), "audit", "key")
    assert out.splitlines()[0] == by_token


def test_an_imported_file_key_keeps_its_key_id_and_signs_in_the_token(
    tmp_path: Path, softhsm: SoftHsm, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_dir = tmp_path / "keys"
    hsm = softhsm.config(audit=False)
    cfg = config_file(tmp_path / "hedui.toml", "sqlite:///" + str(tmp_path / "h.db"), keys_dir, hsm)
    files = KeyStore(keys_dir)
    files.ensure()
    before = key_id(files.signing_key().public_key())

    code, out, err = run_cli(capsys, "--config", str(cfg), "keys", "hsm-import")
    assert code == 0 and before[:16] in out, err
    token = Pkcs11Token(Pkcs11Settings(hsm.module, hsm.token_label, softhsm.pin))
    try:
        key = token.key(hsm.signing_key_label)
        assert key_id(key.public_key()) == before
        key.public_key().verify(key.sign(b"message"), b"message")
        with pytest.raises(HsmError, match="cannot be exported"):
            key.private_bytes_raw()
        # The module initialised again (as after an HSM restart): every session is gone;
        # the next signature opens a new one and finds the key again.
        pkcs11.lib(hsm.module).reinitialize()
        key.public_key().verify(key.sign(b"after"), b"after")
    finally:
        token.close()
    assert [key_id(k) for k in files.public_keys()] == [before]  # listed once


def hedui(cfg: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``hedui --config CFG ARGV`` in its own process: PKCS#11 logs a process in once, so
    a PIN is checked only by a process that has not logged in yet."""
    return subprocess.run(
        [sys.executable, "-m", "verifier.cli.main", "--config", str(cfg), *argv],
        env={k: v for k, v in os.environ.items() if k != PIN_VARIABLE} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_wrong_pin_or_a_missing_key_is_a_clear_error(tmp_path: Path, softhsm: SoftHsm) -> None:
    hsm = softhsm.config()
    db = "sqlite:///" + str(tmp_path / "h.db")
    cfg = config_file(tmp_path / "hedui.toml", db, tmp_path / "keys", hsm)
    KeyStore(tmp_path / "keys").ensure()
    done = hedui(cfg, "keys", "export", **{PIN_VARIABLE: softhsm.pin})
    assert done.returncode == 2, done.stderr
    assert f"labelled '{hsm.signing_key_label}'" in done.stderr and "hsm-generate" in done.stderr

    done = hedui(cfg, "keys", "hsm-generate", **{PIN_VARIABLE: "wrong-" + softhsm.pin})
    assert done.returncode == 2 and "cannot log in" in done.stderr
    assert softhsm.pin not in done.stdout + done.stderr
    done = hedui(cfg, "keys", "hsm-generate")
    assert done.returncode == 2 and PIN_VARIABLE in done.stderr
