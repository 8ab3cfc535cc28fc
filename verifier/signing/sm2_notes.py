"""SM2 signatures on the audit log's checkpoints (C2SP signed notes), beside Ed25519.

A checkpoint signed by both keys has two signature lines under the origin's name: the
Ed25519 one, then one whose key ID is ``SHA-256(name || 0x0A || 0xff || "hedui/sm2-sm3"
|| point)[:4]`` and whose signature is the DER SM2 signature (SM3, default distinguishing
ID) of the note text — signed-note's type byte 0xff for a type it does not define, with
an identifier of hedui's. The SM2 verifier key is
``<name>+<hex key ID>+<base64(0xff || "hedui/sm2-sm3" || 04 || x || y)>``.

Importing this module registers the type with :mod:`audit.note_types`, so that
:func:`audit.checkpoint.open_note` accepts such verifier keys; a verifier given only the
Ed25519 key ignores the SM2 line, and one given only the SM2 key ignores the Ed25519 line.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from audit.note_types import NoteKeyType, cosign_note, note_key_hash, register
from verifier.signing.sm2 import Sm2PrivateKey, Sm2PublicKey

SM2_NOTE_TYPE = b"\xff" + b"hedui/sm2-sm3"
"""The signature type of hedui's SM2 note signatures (0xff, then the identifier)."""

register(NoteKeyType("SM2", SM2_NOTE_TYPE, Sm2PublicKey.from_point))


def sm2_verifier_key(key_name: str, public_key: Sm2PublicKey) -> str:
    """``<name>+<hex8 key ID>+<base64(0xff || "hedui/sm2-sm3" || point)>``."""
    typed = SM2_NOTE_TYPE + public_key.point()
    kid = note_key_hash(key_name, typed)
    return f"{key_name}+{kid.hex()}+{base64.b64encode(typed).decode('ascii')}"


@dataclass(frozen=True)
class Sm2NoteCosigner:
    """Adds the SM2 signature line to a note the Ed25519 key has signed."""

    key_name: str
    key: Sm2PrivateKey

    def __call__(self, note: bytes) -> bytes:
        typed = SM2_NOTE_TYPE + self.key.public_key().point()
        return cosign_note(note, self.key_name, typed, self.key.sign)
