"""Encryption at rest: AES-256-GCM with the row's identity as associated data.

Binding the ciphertext to its row (``table/id``) means a sealed value copied into another
row does not open. The key id travels with the row so old rows open after rotation.

Values are compressed before they are sealed (ciphertext does not compress): a report
envelope shrinks about five times, and what one check leaves behind is dominated by its
sealed reports and records. A compressed value is marked by a leading format byte outside
the ciphertext *and* by its associated data, so the format is authenticated too: an older
value whose random nonce happens to begin with the same byte fails that check and opens as
the plain value it is.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SealError(RuntimeError):
    """A sealed value could not be opened (wrong key, wrong row, or tampered)."""


@dataclass(frozen=True)
class Sealer:
    active_kid: str
    keys: Mapping[str, bytes]

    @classmethod
    def without_keys(cls) -> Sealer:
        """A sealer that seals and opens nothing: for a process that must not read the
        personal data at rest (the auditor's commands touch only the audit log)."""
        return cls("", {})

    def seal(self, plaintext: bytes, aad: str) -> tuple[bytes, str]:
        key = self.keys.get(self.active_kid)
        if key is None:
            raise SealError("no active data key to seal with")
        nonce = os.urandom(12)
        ct = AESGCM(key).encrypt(nonce, zlib.compress(plaintext, 6), _deflated(aad))
        return DEFLATED + nonce + ct, self.active_kid

    def open(self, sealed: bytes, kid: str, aad: str) -> bytes:
        key = self.keys.get(kid)
        if key is None:
            raise SealError(f"data key {kid} is not available")
        aead = AESGCM(key)
        if sealed[:1] == DEFLATED:
            try:
                packed = aead.decrypt(sealed[1:13], sealed[13:], _deflated(aad))
            except InvalidTag:
                pass  # a value sealed before compression whose nonce began with the mark
            else:
                return zlib.decompress(packed)
        try:
            return aead.decrypt(sealed[:12], sealed[12:], aad.encode())
        except InvalidTag:
            raise SealError(f"sealed value for {aad.split('/')[0]} does not open") from None


DEFLATED = b"\x01"
"""The format byte of a value compressed (zlib) before it was sealed."""


def _deflated(aad: str) -> bytes:
    return (aad + "#deflate").encode()
