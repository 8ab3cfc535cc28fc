"""A key directory whose signing and audit keys are held in an HSM (PKCS#11).

Data keys and the pseudonym key stay in the directory (they are symmetric secrets the
service uses for every row, not signing keys). The report-signing key, and the audit
checkpoint key when a label is given for it, are the token's: the directory keeps their
public keys (``<kind>/<kid>.pub``) so that what they signed verifies with the directory
alone — after a backup and restore, or once the HSM key is retired.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verifier.signing.jwks import key_id
from verifier.signing.keystore import KeyStore
from verifier.signing.pkcs11_keys import Pkcs11Ed25519Key, Pkcs11Token

__all__ = ["HsmKeyStore"]


class HsmKeyStore(KeyStore):
    """:class:`KeyStore` with the keys of ``labels`` (kind → CKA_LABEL) in ``token``."""

    def __init__(self, directory: Path, token: Pkcs11Token, labels: Mapping[str, str]) -> None:
        super().__init__(directory)
        self.token = token
        self._labels = dict(labels)
        self._held: dict[str, Pkcs11Ed25519Key] = {}

    def held(self, kind: str) -> Pkcs11Ed25519Key | None:
        """The HSM key of ``kind`` (looked up once), or None when ``kind`` is a file key."""
        label = self._labels.get(kind)
        if label is None:
            return None
        if kind not in self._held:
            key = self.token.key(label)
            self.remember_public(kind, key.public_key())
            self._held[kind] = key
        return self._held[kind]

    def signing_key(self) -> Ed25519PrivateKey:
        return self.held("signing") or super().signing_key()

    def audit_key(self) -> Ed25519PrivateKey:
        return self.held("audit") or super().audit_key()

    def public_keys(self, kind: str = "signing") -> list[Ed25519PublicKey]:
        keys = super().public_keys(kind)
        key = self.held(kind)
        if key is None:
            return keys
        active = key_id(key.public_key())
        keys.sort(key=lambda k: key_id(k) != active)
        return keys

    def close(self) -> None:
        self.token.close()
