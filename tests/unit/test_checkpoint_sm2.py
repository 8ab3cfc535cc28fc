"""Audit checkpoints signed by the Ed25519 audit key and an SM2 key: two signature lines,
each verifiable alone (by hedui, and the SM2 one by OpenSSL's command line)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.checkpoint import Checkpoint, CheckpointError, open_checkpoint, open_note
from audit.checkpointer import CheckpointSigner
from audit.note_types import note_key_hash
from tests.openssl_helpers import need_sm2, sm2_verify
from verifier.service.auditing import verifier_keys_for
from verifier.signing.sm2 import Sm2PrivateKey
from verifier.signing.sm2_notes import SM2_NOTE_TYPE, Sm2NoteCosigner, sm2_verifier_key


@pytest.fixture(autouse=True)
def _sm2() -> None:
    need_sm2()


ORIGIN = "hedui.example/audit"
CP = Checkpoint(ORIGIN, 7, hashlib.sha256(b"root").digest())


@pytest.fixture(scope="module")
def keys() -> tuple[Ed25519PrivateKey, Sm2PrivateKey]:
    need_sm2()
    return Ed25519PrivateKey.generate(), Sm2PrivateKey.generate()


def signed(keys: tuple[Ed25519PrivateKey, Sm2PrivateKey]) -> bytes:
    ed, sm = keys
    return CheckpointSigner(ORIGIN, ed, (Sm2NoteCosigner(ORIGIN, sm),)).sign(CP)


def test_a_checkpoint_carries_both_lines_and_each_key_opens_it_alone(
    keys: tuple[Ed25519PrivateKey, Sm2PrivateKey],
) -> None:
    ed, sm = keys
    note = signed(keys)
    lines = note.decode().split("\n\n")[1].splitlines()
    assert [line.split(" ")[1] for line in lines] == [ORIGIN, ORIGIN]
    ed_vkey, sm_vkey = verifier_keys_for(ORIGIN, [ed.public_key(), sm.public_key()])
    assert sm_vkey == sm2_verifier_key(ORIGIN, sm.public_key())
    for vkeys in ([ed_vkey], [sm_vkey], [ed_vkey, sm_vkey], [sm_vkey, ed_vkey]):
        assert open_checkpoint(note, vkeys) == CP
    assert base64.b64decode(sm_vkey.split("+", 2)[2]).startswith(SM2_NOTE_TYPE)


def test_a_bad_sm2_line_fails_when_its_key_is_known_and_is_ignored_otherwise(
    keys: tuple[Ed25519PrivateKey, Sm2PrivateKey],
) -> None:
    ed, sm = keys
    note = signed(keys)
    other = CheckpointSigner(ORIGIN, ed, (Sm2NoteCosigner(ORIGIN, sm),)).sign(
        Checkpoint(ORIGIN, 8, CP.root_hash)
    )
    sm2_line = other.decode().splitlines()[-1]
    forged = note.decode().rsplit("\n", 2)[0] + "\n" + sm2_line + "\n"
    ed_vkey, sm_vkey = verifier_keys_for(ORIGIN, [ed.public_key(), sm.public_key()])
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(forged.encode(), [ed_vkey, sm_vkey])
    assert open_checkpoint(forged.encode(), [ed_vkey]) == CP


def test_sm2_verifier_keys_are_checked_like_ed25519_ones(
    keys: tuple[Ed25519PrivateKey, Sm2PrivateKey],
) -> None:
    _, sm = keys
    vkey = sm2_verifier_key(ORIGIN, sm.public_key())
    name, _, key = vkey.split("+", 2)
    with pytest.raises(CheckpointError, match="key ID does not match"):
        open_note(signed(keys), f"{name}+00000000+{key}")
    off_curve = SM2_NOTE_TYPE + b"\x04" + bytes(64)
    kid = note_key_hash(ORIGIN, off_curve).hex()
    with pytest.raises(CheckpointError, match="not a valid SM2 key"):
        open_note(signed(keys), f"{ORIGIN}+{kid}+{base64.b64encode(off_curve).decode()}")


def test_openssl_verifies_the_sm2_line_over_the_note_text(
    keys: tuple[Ed25519PrivateKey, Sm2PrivateKey], tmp_path: Path
) -> None:
    _, sm = keys
    note = signed(keys)
    text = note[: note.rfind(b"\n\n") + 1]
    blob = base64.b64decode(note.decode().splitlines()[-1].split(" ")[2])
    assert sm2_verify(sm.public_key().spki_der(), blob[4:], text, tmp_path)
    assert not sm2_verify(sm.public_key().spki_der(), blob[4:], text + b"x\n", tmp_path)
