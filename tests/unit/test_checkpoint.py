"""Tests for audit.checkpoint: C2SP signed notes and tlog checkpoints."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.checkpoint import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    key_hash,
    open_checkpoint,
    open_note,
    parse_signer_key,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
    signer_key,
    verifier_key,
)

EM = "\u2014"

# --- known answers ------------------------------------------------------------

# golang.org/x/mod/sumdb/note, note_test.go TestSign / TestNewVerifier.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + (
        f"\n{EM} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
        "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    ).encode()
)

# c2sp.org/signed-note, the example in the specification.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    f"This is an example message.\n\n{EM} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6Tf"
    "Xppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()

# A real checkpoint from sum.golang.org (as pinned in google/trillian-examples),
# with the Go checksum database's published verifier key.
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_NOTE = (
    "go.sum database tree\n13485\n/ZWur4obeiqK+ASdnPK+/Rmz6LPQMUeSmHh0+UkL54Y=\n\n"
    f"{EM} sum.golang.org Az3grnQReYTvpCrRxT+w50vixbqBlB/aPS8bL8f8KW4HHP+UjLSXOJgCh4f54n8h"
    "O6lrESglzyRXMXnhaWzaeY3zqw8=\n"
).encode()


def test_go_reference_signature_is_reproduced_byte_for_byte() -> None:
    name, private_key = parse_signer_key(GO_SKEY)
    assert name == "PeterNeumann"
    assert signer_key(name, private_key) == GO_SKEY
    assert verifier_key(name, private_key.public_key()) == GO_VKEY
    assert key_hash(name, private_key.public_key()).hex() == "c74f20a3"
    assert sign_note(GO_TEXT, name, private_key) == GO_NOTE
    assert open_note(GO_NOTE, GO_VKEY) == GO_TEXT


def test_spec_example_note_opens() -> None:
    name, kid, _ = parse_verifier_key(SPEC_VKEY)
    assert (name, kid.hex()) == ("example.com/foo", "530d903a")
    assert open_note(SPEC_NOTE, SPEC_VKEY) == b"This is an example message.\n"


def test_real_sumdb_checkpoint_opens() -> None:
    cp = open_checkpoint(SUMDB_NOTE, SUMDB_VKEY, origin="go.sum database tree")
    assert cp.size == 13485
    assert base64.b64encode(cp.root_hash) == b"/ZWur4obeiqK+ASdnPK+/Rmz6LPQMUeSmHh0+UkL54Y="
    assert cp.body() == SUMDB_NOTE.split(b"\n\n")[0] + b"\n"
    # Its origin is not its key name, so the default expectation refuses it.
    with pytest.raises(CheckpointError, match="bad origin"):
        open_checkpoint(SUMDB_NOTE, SUMDB_VKEY)


# --- round trip -----------------------------------------------------------------

ORIGIN = "hedui.example/audit/370322"


def _key(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


KEY = _key("audit")
VKEY = verifier_key(ORIGIN, KEY.public_key())
ROOT = hashlib.sha256(b"some root").digest()
CP = Checkpoint(ORIGIN, 1234567, ROOT)
NOTE = sign_checkpoint(CP, ORIGIN, KEY)


def test_body_is_the_c2sp_format() -> None:
    b64 = base64.b64encode(ROOT).decode()
    assert CP.body() == f"{ORIGIN}\n1234567\n{b64}\n".encode()
    with_ext = Checkpoint(ORIGIN, 0, ROOT, ("ext one", "ext two"))
    assert with_ext.body() == f"{ORIGIN}\n0\n{b64}\next one\next two\n".encode()
    assert Checkpoint.parse(with_ext.body()) == with_ext


def test_signed_checkpoint_round_trip() -> None:
    body, sig_line = NOTE.split(b"\n\n")
    assert body + b"\n" == CP.body()
    sig = sig_line.decode()
    assert sig.startswith(f"{EM} {ORIGIN} ")
    assert sig.endswith("\n")
    blob = base64.b64decode(sig.split(" ")[2])
    assert blob[:4] == key_hash(ORIGIN, KEY.public_key())
    assert len(blob) == 4 + 64
    assert open_checkpoint(NOTE, VKEY) == CP


def test_signer_key_round_trip() -> None:
    name, private_key = parse_signer_key(signer_key(ORIGIN, KEY))
    assert name == ORIGIN
    assert verifier_key(name, private_key.public_key()) == VKEY


printable = st.text(
    st.characters(min_codepoint=0x20, blacklist_categories=["Cs"]), min_size=1, max_size=30
)


@settings(max_examples=150, deadline=None)
@given(
    origin=printable,
    size=st.integers(0, 2**63 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(printable, max_size=3).map(tuple),
)
def test_any_valid_checkpoint_round_trips(
    origin: str, size: int, root_hash: bytes, extensions: tuple[str, ...]
) -> None:
    cp = Checkpoint(origin, size, root_hash, extensions)
    assert Checkpoint.parse(cp.body()) == cp
    note = sign_checkpoint(cp, "hedui.example/audit", KEY)
    vkey = verifier_key("hedui.example/audit", KEY.public_key())
    assert open_checkpoint(note, vkey, origin=origin) == cp


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(NOTE) - 1), value=st.integers(0, 255))
def test_no_single_byte_change_alters_what_is_accepted(position: int, value: int) -> None:
    if NOTE[position] == value:
        value ^= 0x40
    tampered = NOTE[:position] + bytes([value]) + NOTE[position + 1 :]
    try:
        cp = open_checkpoint(tampered, VKEY)
    except CheckpointError:
        return
    # base64 has spare bits in its last character, so the signature line can
    # change without the signature changing; nothing signed can.
    assert position >= len(CP.body()) + 1
    assert cp == CP


# --- tampering and keys ---------------------------------------------------------


def _resign_free_tamper(old: bytes, new: bytes) -> bytes:
    assert old in NOTE
    return NOTE.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"1234567", b"1234568"),
        (b"1234567\n", b"1234567\nextension\n"),
        (ORIGIN.encode(), b"hedui.example/audit/370323"),
        (base64.b64encode(ROOT)[:4], b"AAAA"),
    ],
    ids=["size", "extension", "origin", "root"],
)
def test_tampered_body_is_refused(old: bytes, new: bytes) -> None:
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(_resign_free_tamper(old, new), VKEY)


def test_tampered_signature_is_refused() -> None:
    line = NOTE.split(b"\n\n")[1].decode()
    name_part, sig_text = line.rsplit(" ", 1)
    blob = bytearray(base64.b64decode(sig_text))
    blob[10] ^= 1
    bad = NOTE.split(b"\n\n")[0] + f"\n\n{name_part} {base64.b64encode(blob).decode()}\n".encode()
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(bad, VKEY)
    short = (
        NOTE.split(b"\n\n")[0]
        + f"\n\n{name_part} {base64.b64encode(blob[:40]).decode()}\n".encode()
    )
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(short, VKEY)


def test_other_key_is_refused() -> None:
    other = _key("someone else")
    forged = sign_checkpoint(CP, ORIGIN, other)
    with pytest.raises(CheckpointError, match="missing signature"):
        open_checkpoint(forged, VKEY)
    with pytest.raises(CheckpointError, match="missing signature"):
        open_checkpoint(NOTE, verifier_key(ORIGIN, other.public_key()))
    # Same key, other name: a different key ID, so an unknown signer.
    renamed = sign_checkpoint(CP, "hedui.example/other", KEY)
    with pytest.raises(CheckpointError, match="missing signature"):
        open_checkpoint(renamed, VKEY)


def test_unknown_key_lines_are_ignored() -> None:
    witness = sign_note(CP.body(), "witness.example", _key("witness"))
    witness_line = witness.split(b"\n\n")[1]
    garbage = f"{EM} nobody.example {base64.b64encode(b'0123' + bytes(64)).decode()}\n".encode()
    # Same name and a wrong key ID: also just an unknown key.
    kid = key_hash(ORIGIN, KEY.public_key())
    wrong_id = bytes([kid[0] ^ 1]) + kid[1:] + bytes(64)
    impostor = f"{EM} {ORIGIN} {base64.b64encode(wrong_id).decode()}\n".encode()
    for extra in (witness_line, garbage, impostor):
        assert open_checkpoint(NOTE + extra, VKEY) == CP
        body, sigs = NOTE.split(b"\n\n")
        assert open_checkpoint(body + b"\n\n" + extra + sigs, VKEY) == CP
    with pytest.raises(CheckpointError, match="missing signature"):
        open_checkpoint(CP.body() + b"\n" + witness_line + garbage, VKEY)


def test_a_bad_signature_by_a_known_key_fails_the_note() -> None:
    kid = key_hash(ORIGIN, KEY.public_key())
    bad = f"{EM} {ORIGIN} {base64.b64encode(kid + bytes(64)).decode()}\n".encode()
    with pytest.raises(CheckpointError, match="signature line 2"):
        open_checkpoint(NOTE + bad, VKEY)


def test_several_verifier_keys_for_rotation() -> None:
    new_key = _key("audit-2026")
    new_vkey = verifier_key(ORIGIN, new_key.public_key())
    rotated = sign_checkpoint(CP, ORIGIN, new_key)
    assert open_checkpoint(rotated, [VKEY, new_vkey]) == CP
    assert open_checkpoint(NOTE, [VKEY, new_vkey]) == CP
    with pytest.raises(CheckpointError, match="no verifier key"):
        open_checkpoint(NOTE, [])


# --- strict parsing ------------------------------------------------------------

B64_ROOT = base64.b64encode(ROOT).decode()
URLSAFE_ROOT = base64.urlsafe_b64encode(b"\xff" * 32).decode()
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# 32 bytes leave two spare bits in the last base64 digit; setting one spells
# the same bytes in a second, non-canonical way.
NON_CANONICAL_ROOT = B64_ROOT[:-2] + _ALPHABET[_ALPHABET.index(B64_ROOT[-2]) ^ 1] + "="


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{ORIGIN}\n5\n", "needs origin, tree size and root hash"),
        (f"\n5\n{B64_ROOT}\n", "empty line"),
        (f"{ORIGIN}\n5\n{B64_ROOT}\n\nextension\n", "empty line"),
        (f"{ORIGIN}\n05\n{B64_ROOT}\n", "leading zeros"),
        (f"{ORIGIN}\n00\n{B64_ROOT}\n", "leading zeros"),
        (f"{ORIGIN}\n+5\n{B64_ROOT}\n", "bad tree size"),
        (f"{ORIGIN}\n-5\n{B64_ROOT}\n", "bad tree size"),
        (f"{ORIGIN}\n5 \n{B64_ROOT}\n", "bad tree size"),
        (f"{ORIGIN}\n0x5\n{B64_ROOT}\n", "bad tree size"),
        (f"{ORIGIN}\n1_000\n{B64_ROOT}\n", "bad tree size"),
        (f"{ORIGIN}\n\u0665\n{B64_ROOT}\n", "bad tree size"),
        (f"{ORIGIN}\n{2**63}\n{B64_ROOT}\n", "larger than"),
        (f"{ORIGIN}\n5\n{B64_ROOT[:-4]}\n", "decodes to 30 bytes"),
        (f"{ORIGIN}\n5\n{base64.b64encode(ROOT + b'x').decode()}\n", "decodes to 33 bytes"),
        (f"{ORIGIN}\n5\n{B64_ROOT.rstrip('=')}\n", "not valid base64"),
        (f"{ORIGIN}\n5\n{B64_ROOT[:10]}*{B64_ROOT[11:]}\n", "not valid base64"),
        (f"{ORIGIN}\n5\n{URLSAFE_ROOT}\n", "not valid base64"),
        (f"{ORIGIN}\n5\n{NON_CANONICAL_ROOT}\n", "non-canonical"),
    ],
)
def test_malformed_bodies_are_refused_even_when_signed(body: str, message: str) -> None:
    note = sign_note(body.encode(), ORIGIN, KEY)
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(note, VKEY)
    with pytest.raises(CheckpointError, match=message):
        Checkpoint.parse(body.encode())


def test_non_canonical_probe_spells_the_same_bytes() -> None:
    assert NON_CANONICAL_ROOT != B64_ROOT
    assert base64.b64decode(NON_CANONICAL_ROOT) == ROOT


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (CP.body(), "no blank line"),
        (CP.body() + b"\n", "missing signature lines"),
        (NOTE + b"\n", "missing signature lines"),
        (NOTE[:-1], "missing signature lines"),
        (NOTE.replace(EM.encode(), b"-"), "must start with"),
        (NOTE.replace(f"{EM} ".encode(), EM.encode()), "must start with"),
        (NOTE.replace(f"{ORIGIN} ".encode(), ORIGIN.encode(), 1), "expected"),
        (NOTE[: NOTE.rindex(b"=\n")] + b"=!\n", "not valid base64"),
        (NOTE.replace(b"1234567", b"1234567\r"), "control character"),
        (NOTE.replace(b"1234567", b"\xff\xfe"), "not UTF-8"),
        (NOTE + f"{EM} x AAAA\n".encode(), "too short"),
        (NOTE + f"{EM} a+b {base64.b64encode(bytes(68)).decode()}\n".encode(), "key name"),
        (
            NOTE + f"{EM} n {base64.b64encode(bytes(68)).decode()}\n".encode() * MAX_SIGNATURES,
            "more than",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_malformed_notes_are_refused(note: bytes, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(note, VKEY)


def test_default_origin_is_the_key_name() -> None:
    cp = Checkpoint("hedui.example/audit/other", 3, ROOT)
    note = sign_checkpoint(cp, ORIGIN, KEY)
    with pytest.raises(CheckpointError, match="bad origin"):
        open_checkpoint(note, VKEY)
    assert open_checkpoint(note, VKEY, origin="hedui.example/audit/other") == cp
    with pytest.raises(CheckpointError, match="bad origin"):
        open_checkpoint(NOTE, VKEY, origin="hedui.example/audit/other")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"origin": ""}, "bad origin"),
        ({"origin": "a\nb"}, "bad origin"),
        ({"origin": "a\tb"}, "bad origin"),
        ({"size": -1}, "bad tree size"),
        ({"size": 2**63}, "bad tree size"),
        ({"size": True}, "bad tree size"),
        ({"root_hash": ROOT[:31]}, "bad root hash"),
        ({"root_hash": bytearray(ROOT)}, "bad root hash"),
        ({"extensions": ("",)}, "bad extension"),
        ({"extensions": ("a\nb",)}, "bad extension"),
        ({"extensions": ["x"]}, "tuple"),
    ],
)
def test_checkpoint_refuses_bad_fields(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"origin": ORIGIN, "size": 1, "root_hash": ROOT, "extensions": ()}
    fields.update(kwargs)
    with pytest.raises(CheckpointError, match=message):
        Checkpoint(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("PeterNeumann+c74f20a3", "malformed verifier key"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"),
        ("PeterNeumann+c74f20ag+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+c74f20a3+Alpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not an Ed25519"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "base64"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
    ],
)
def test_bad_verifier_keys_are_refused(vkey: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        parse_verifier_key(vkey)
    with pytest.raises(CheckpointError, match=message):
        open_note(GO_NOTE, vkey)


def test_uppercase_key_id_is_accepted_like_go() -> None:
    assert parse_verifier_key(GO_VKEY.replace("c74f20a3", "C74F20A3"))[1].hex() == "c74f20a3"


@pytest.mark.parametrize(
    ("skey", "message"),
    [
        (GO_VKEY, "PRIVATE\\+KEY"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3", "malformed signer key"),
        (GO_SKEY.replace("c74f20a3", "c74f20a4"), "does not match"),
        (GO_SKEY.replace("+AYEK", "+AoEK"), "not an Ed25519"),
    ],
)
def test_bad_signer_keys_are_refused(skey: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        parse_signer_key(skey)


def test_signing_refuses_bad_names_and_texts() -> None:
    for name in ("", "a b", "a+b", "a\u00a0b"):
        with pytest.raises(CheckpointError, match="key name"):
            sign_checkpoint(CP, name, KEY)
    with pytest.raises(CheckpointError, match="end with a newline"):
        sign_note(b"no newline", ORIGIN, KEY)
    with pytest.raises(CheckpointError, match="control"):
        sign_note(b"bell\x07\n", ORIGIN, KEY)


def test_checkpoint_error_is_a_value_error() -> None:
    assert issubclass(CheckpointError, ValueError)
