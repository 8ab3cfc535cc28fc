"""Signature types of signed notes beyond Ed25519, supplied by the code that has them.

c2sp.org/signed-note identifies a key by ``SHA-256(name || 0x0A || signature type ||
public key)[:4]`` and keeps the type byte 0xff for signature types it does not define.
A type registered here is ``0xff`` followed by an ASCII identifier (hedui's SM2 with SM3
is ``0xff || "hedui/sm2-sm3"``, see :mod:`verifier.signing.sm2_notes`); its verifier keys
are ``<name>+<hex key ID>+<base64(type || public key)>`` like Ed25519's, and its signature
lines ``— <name> <base64(key ID || signature)>``.

The audit package has no SM2 of its own and must not depend on the verifier, so the
verifier registers the types it can check (:func:`register`); :func:`open_note` in
:mod:`audit.checkpoint` then accepts their verifier keys beside Ed25519 ones. A note line
whose key is not given is ignored, as the spec asks, so an Ed25519-only verifier reads a
note that carries an SM2 line too.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["NoteKeyType", "NoteVerifier", "cosign_note", "lookup", "note_key_hash", "register"]

OTHER_TYPE = 0xFF
"""The signature type byte signed-note leaves to types it does not define."""


class NoteVerifier(Protocol):
    def verify(self, signature: bytes, data: bytes) -> None:
        """Return, or raise ``cryptography.exceptions.InvalidSignature``."""


@dataclass(frozen=True)
class NoteKeyType:
    """A signature type: what precedes the key in a verifier key, and how to load one."""

    name: str
    prefix: bytes
    """0xff then the type's ASCII identifier."""
    load: Callable[[bytes], NoteVerifier]
    """Public key bytes (after the prefix) → a verifier; ValueError for bytes that are none."""

    def __post_init__(self) -> None:
        if len(self.prefix) < 2 or self.prefix[0] != OTHER_TYPE:
            raise ValueError("a registered signature type is 0xff followed by an identifier")


_TYPES: dict[bytes, NoteKeyType] = {}


def register(key_type: NoteKeyType) -> None:
    """Make verifier keys of ``key_type`` acceptable to :func:`audit.checkpoint.open_note`."""
    _TYPES[key_type.prefix] = key_type


def lookup(typed_key: bytes) -> NoteKeyType | None:
    """The registered type ``typed_key`` (type || public key) begins with, if any."""
    if typed_key[:1] != bytes([OTHER_TYPE]):
        return None
    for prefix, key_type in _TYPES.items():
        if typed_key.startswith(prefix):
            return key_type
    return None


def note_key_hash(key_name: str, typed_key: bytes) -> bytes:
    """The 4-byte key ID of ``typed_key`` (type || public key) under ``key_name``."""
    return hashlib.sha256(key_name.encode("utf-8") + b"\n" + typed_key).digest()[:4]


def cosign_note(
    note: bytes, key_name: str, typed_key: bytes, sign: Callable[[bytes], bytes]
) -> bytes:
    """``note`` (already signed) with one more signature line, by ``sign`` over its text."""
    split = note.rfind(b"\n\n")
    if split < 0:
        raise ValueError("not a signed note: no blank line before the signatures")
    text = note[: split + 1]
    blob = note_key_hash(key_name, typed_key) + sign(text)
    return note + f"— {key_name} {base64.b64encode(blob).decode('ascii')}\n".encode()
