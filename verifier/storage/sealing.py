"""Encryption at rest: AES-256-GCM with the row's identity as associated data.

Binding the ciphertext to its row (``table/id``) means a sealed value copied into another
row does not open. The key id travels with the row so old rows open after rotation.
"""

from __future__ import annotations

import os
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
        ct = AESGCM(key).encrypt(nonce, plaintext, aad.encode())
        return nonce + ct, self.active_kid

    def open(self, sealed: bytes, kid: str, aad: str) -> bytes:
        key = self.keys.get(kid)
        if key is None:
            raise SealError(f"data key {kid} is not available")
        try:
            return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad.encode())
        except InvalidTag:
            raise SealError(f"sealed value for {aad.split('/')[0]} does not open") from None
