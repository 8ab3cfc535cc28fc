"""C2SP tlog-checkpoint signed notes for the audit log's tree heads.

A checkpoint (https://c2sp.org/tlog-checkpoint) is a signed note
(https://c2sp.org/signed-note) whose text is::

    <origin>\\n<tree size>\\n<base64 root hash>\\n[<extension line>\\n ...]

followed by a blank line and signature lines ``— <key name> <base64(key ID ||
signature)>``. Keys are Ed25519, identified as in Go's
golang.org/x/mod/sumdb/note, the reference implementation: the key ID is the
first four bytes of ``SHA-256(name || 0x0A || 0x01 || public key)`` and keys are
exchanged as ``<name>+<hex key ID>+<base64(0x01 || public key)>`` strings.

Everything that reads input fails closed with :class:`CheckpointError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from audit.note_types import NoteVerifier, lookup, note_key_hash

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "CheckpointError",
    "StoredCheckpoint",
    "key_hash",
    "open_checkpoint",
    "open_note",
    "parse_signer_key",
    "parse_verifier_key",
    "sign_checkpoint",
    "sign_note",
    "signer_key",
    "verifier_key",
]

ALG_ED25519 = 0x01
"""signed-note signature type byte for Ed25519."""

MAX_SIGNATURES = 100
"""Most signature lines accepted in one note (the spec asks for at least 16)."""

MAX_TREE_SIZE = 2**63 - 1
"""Largest tree size parsed; matches the int64 sizes of Go's tlog and of the database."""

HASH_SIZE = 32

_EM_DASH_PREFIX = "— "  # U+2014 EM DASH, then a space
_SIGNER_PREFIX = "PRIVATE+KEY+"
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)", re.ASCII)
_HEX8 = re.compile(r"[0-9a-fA-F]{8}", re.ASCII)
_ED25519_SIG_SIZE = 64


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint as the log keeps it: its tree, the signed note, when it was made."""

    size: int
    root: bytes
    note: bytes
    created_at: str


class CheckpointError(ValueError):
    """A checkpoint, signed note or key string is malformed or does not verify."""


def _has_control(text: str) -> bool:
    # signed-note forbids ASCII controls other than newline anywhere in a note.
    return any(ch < " " for ch in text)


def _check_key_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise CheckpointError("key name must be a non-empty string")
    if "+" in name or any(ch.isspace() for ch in name) or _has_control(name):
        raise CheckpointError(
            f"key name {name!r} must not contain '+', spaces or control characters"
        )


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise CheckpointError(f"{what} is not valid base64") from exc


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _raw_seed(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


# --- checkpoint body ----------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root hash, extension lines.

    Construction validates every field, so a Checkpoint always has a body
    that :meth:`parse` reads back to an equal value.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse fields that could not be written as a well-formed body."""
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("bad origin: must be a non-empty string")
        if _has_control(self.origin):
            raise CheckpointError("bad origin: must not contain newlines or control characters")
        size = self.size
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_TREE_SIZE:
            raise CheckpointError(f"bad tree size {size!r}: must be an int in [0, 2^63)")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"bad root hash: must be {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise CheckpointError("extensions must be a tuple of strings")
        for line in self.extensions:
            if not isinstance(line, str) or not line or _has_control(line):
                raise CheckpointError(
                    "bad extension line: must be non-empty, without newlines or control characters"
                )

    def body(self) -> bytes:
        """Return the note text: the exact bytes that are signed."""
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines).encode("utf-8")

    @classmethod
    def parse(cls, body: bytes) -> Checkpoint:
        """Parse note text strictly; the result's :meth:`body` equals ``body``.

        This only reads the text: it proves nothing until the note's signature
        has been checked, which :func:`open_checkpoint` does.
        """
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError("malformed checkpoint body: not UTF-8") from exc
        if not text.endswith("\n"):
            raise CheckpointError("malformed checkpoint body: must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(
                "malformed checkpoint body: needs origin, tree size and root hash lines"
            )
        if any(not line for line in lines):
            raise CheckpointError("malformed checkpoint body: empty line")
        origin, size_text, root_text, *extensions = lines
        if _has_control(text.replace("\n", "")):
            raise CheckpointError("malformed checkpoint body: control character")
        if not _DECIMAL.fullmatch(size_text):
            raise CheckpointError(
                f"bad tree size {size_text!r}: must be decimal digits without leading zeros"
            )
        size = int(size_text)
        if size > MAX_TREE_SIZE:
            raise CheckpointError(f"bad tree size {size_text}: larger than 2^63 - 1")
        root_hash = _b64decode(root_text, "root hash")
        if len(root_hash) != HASH_SIZE:
            raise CheckpointError(
                f"bad root hash: decodes to {len(root_hash)} bytes, expected {HASH_SIZE}"
            )
        if _b64encode(root_hash) != root_text:
            # Only the canonical spelling is accepted, so one tree head has
            # exactly one body.
            raise CheckpointError("bad root hash: non-canonical base64")
        return cls(origin, size, root_hash, tuple(extensions))


# --- keys -----------------------------------------------------------------------


def key_hash(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte signed-note key ID of an Ed25519 key under ``key_name``."""
    _check_key_name(key_name)
    data = key_name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + _raw_public(public_key)
    return hashlib.sha256(data).digest()[:4]


def verifier_key(key_name: str, public_key: Ed25519PublicKey) -> str:
    """Return the verifier key string ``<name>+<hex8 key ID>+<base64(0x01 || key)>``."""
    kid = key_hash(key_name, public_key)
    encoded = _b64encode(bytes([ALG_ED25519]) + _raw_public(public_key))
    return f"{key_name}+{kid.hex()}+{encoded}"


def _split_key(text: str, what: str, layout: str, payload: str) -> tuple[str, str, bytes]:
    """``<name>+<hex8>+<base64>`` split and checked: ``(name, hex key ID, 0x01 || key)``.

    ``what``, ``layout`` and ``payload`` only word the errors.
    """
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise CheckpointError(f"malformed {what}: expected {layout}")
    name, hex_id, key_text = parts
    _check_key_name(name)
    if not _HEX8.fullmatch(hex_id):
        raise CheckpointError(f"malformed {what}: key ID must be 8 hex digits")
    raw = _b64decode(key_text, what)
    if len(raw) != 1 + 32 or raw[0] != ALG_ED25519:
        raise CheckpointError(f"{what} is not an Ed25519 key ({payload})")
    return name, hex_id, raw


def parse_verifier_key(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """Parse a verifier key string into ``(name, 4-byte key ID, public key)``.

    The key ID is recomputed from the name and key and must match the one
    written in the string.
    """
    if not isinstance(vkey, str):
        raise CheckpointError("verifier key must be a string")
    name, hex_id, raw = _split_key(
        vkey, "verifier key", "<name>+<hex8>+<base64 key>", "0x01 || 32 bytes"
    )
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError as exc:
        raise CheckpointError("verifier key is not a valid Ed25519 public key") from exc
    kid = key_hash(name, public_key)
    if kid != bytes.fromhex(hex_id):
        raise CheckpointError("verifier key ID does not match its name and public key")
    return name, kid, public_key


def _registered_verifier_key(vkey: object) -> tuple[str, bytes, NoteVerifier] | None:
    """A verifier key of a type registered in :mod:`audit.note_types` as
    ``(name, key ID, verifier)``; None when it is not one (Ed25519 keys are not)."""
    parts = vkey.split("+", 2) if isinstance(vkey, str) else []
    if len(parts) != 3:
        return None
    name, hex_id, key_text = parts
    try:
        typed_key = base64.b64decode(key_text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    key_type = lookup(typed_key)
    if key_type is None:
        return None
    _check_key_name(name)
    if not _HEX8.fullmatch(hex_id):
        raise CheckpointError("malformed verifier key: key ID must be 8 hex digits")
    kid = note_key_hash(name, typed_key)
    if kid != bytes.fromhex(hex_id):
        raise CheckpointError("verifier key ID does not match its name and public key")
    try:
        return name, kid, key_type.load(typed_key[len(key_type.prefix) :])
    except ValueError:
        raise CheckpointError(f"verifier key is not a valid {key_type.name} key") from None


def signer_key(key_name: str, private_key: Ed25519PrivateKey) -> str:
    """Return the signer key string ``PRIVATE+KEY+<name>+<hex8>+<base64(0x01 || seed)>``.

    It holds the private key in the clear: keep it out of logs and VCS.
    """
    kid = key_hash(key_name, private_key.public_key())
    encoded = _b64encode(bytes([ALG_ED25519]) + _raw_seed(private_key))
    return f"{_SIGNER_PREFIX}{key_name}+{kid.hex()}+{encoded}"


def parse_signer_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse a signer key string into ``(name, private key)``; its key ID must match."""
    if not isinstance(skey, str) or not skey.startswith(_SIGNER_PREFIX):
        raise CheckpointError("malformed signer key: must start with PRIVATE+KEY+")
    name, hex_id, raw = _split_key(
        skey[len(_SIGNER_PREFIX) :],
        "signer key",
        "PRIVATE+KEY+<name>+<hex8>+<key>",
        "0x01 || 32-byte seed",
    )
    private_key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    if key_hash(name, private_key.public_key()) != bytes.fromhex(hex_id):
        raise CheckpointError("signer key ID does not match its name and key")
    return name, private_key


# --- signed notes -------------------------------------------------------------


def _check_text(text: bytes) -> str:
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError("malformed note: not UTF-8") from exc
    if not decoded.endswith("\n"):
        raise CheckpointError("malformed note: text must end with a newline")
    if _has_control(decoded.replace("\n", "")):
        raise CheckpointError("malformed note: control character")
    return decoded


def sign_note(text: bytes, key_name: str, private_key: Ed25519PrivateKey) -> bytes:
    """Sign note ``text`` (ending in a newline) and return the whole signed note."""
    _check_text(text)
    kid = key_hash(key_name, private_key.public_key())
    signature = private_key.sign(text)
    line = f"{_EM_DASH_PREFIX}{key_name} {_b64encode(kid + signature)}\n"
    return text + b"\n" + line.encode("utf-8")


def open_note(note: bytes, verifier_keys: str | Sequence[str]) -> bytes:
    """Verify a signed note and return its text.

    Follows c2sp.org/signed-note: signature lines whose (name, key ID) match
    no given key are ignored; every line that does match must verify, and at
    least one must. Raises :class:`CheckpointError` otherwise.
    """
    keys = [verifier_keys] if isinstance(verifier_keys, str) else list(verifier_keys)
    if not keys:
        raise CheckpointError("no verifier key given")
    known: dict[tuple[str, bytes], tuple[NoteVerifier, int | None]] = {}
    for vkey in keys:
        other = _registered_verifier_key(vkey)
        if other is not None:
            known[(other[0], other[1])] = (other[2], None)
            continue
        name, kid, public_key = parse_verifier_key(vkey)
        known[(name, kid)] = (public_key, _ED25519_SIG_SIZE)

    if not isinstance(note, bytes):
        raise CheckpointError("malformed note: must be bytes")
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError("malformed note: not UTF-8") from exc
    if _has_control(decoded.replace("\n", "")):
        raise CheckpointError("malformed note: control character")
    # The text may itself hold blank lines; the signatures start after the last.
    split = decoded.rfind("\n\n")
    if split < 0:
        raise CheckpointError("malformed note: no blank line before the signatures")
    text, sig_block = decoded[: split + 1], decoded[split + 2 :]
    if not sig_block or not sig_block.endswith("\n"):
        raise CheckpointError("malformed note: missing signature lines")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"malformed note: more than {MAX_SIGNATURES} signatures")

    text_bytes = text.encode("utf-8")
    verified = 0
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_EM_DASH_PREFIX):
            raise CheckpointError(f"malformed signature line {number}: must start with '— '")
        name, sep, sig_text = line[len(_EM_DASH_PREFIX) :].partition(" ")
        if not sep or not sig_text:
            raise CheckpointError(f"malformed signature line {number}: expected '— <name> <sig>'")
        _check_key_name(name)
        blob = _b64decode(sig_text, f"signature line {number}")
        if len(blob) < 5:
            raise CheckpointError(f"malformed signature line {number}: too short")
        signer = known.get((name, blob[:4]))
        if signer is None:
            continue
        signature = blob[4:]
        try:
            if signer[1] is not None and len(signature) != signer[1]:
                raise InvalidSignature
            signer[0].verify(signature, text_bytes)
        except InvalidSignature as exc:
            raise CheckpointError(
                f"bad signature: signature line {number} by known key {name!r} does not verify"
            ) from exc
        verified += 1
    if not verified:
        raise CheckpointError("missing signature: no signature by a known key")
    return text_bytes


def sign_checkpoint(cp: Checkpoint, key_name: str, private_key: Ed25519PrivateKey) -> bytes:
    """Return ``cp`` as a signed note signed by ``private_key`` under ``key_name``.

    C2SP asks that the key name match the origin; :func:`open_checkpoint`
    enforces that unless told which origin to expect.
    """
    return sign_note(cp.body(), key_name, private_key)


def open_checkpoint(
    note: bytes, verifier_key: str | Sequence[str], *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint note and return the checkpoint it carries.

    ``verifier_key`` is one verifier key string (or several, e.g. during key
    rotation). The checkpoint's origin must equal ``origin`` — by default the
    (first) verifier key's name, as C2SP recommends logs sign under their
    origin. Raises :class:`CheckpointError` for a malformed note or body, a
    bad, missing or unknown-key-only signature, or an unexpected origin.
    """
    keys = [verifier_key] if isinstance(verifier_key, str) else list(verifier_key)
    text = open_note(note, keys)
    cp = Checkpoint.parse(text)
    expected = origin if origin is not None else keys[0].split("+", 1)[0]
    if cp.origin != expected:
        raise CheckpointError(f"bad origin: checkpoint is for {cp.origin!r}, expected {expected!r}")
    return cp
