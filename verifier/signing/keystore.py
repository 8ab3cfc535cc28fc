"""Keys on disk: report signing, audit checkpoints, data encryption, pseudonyms.

Layout under the key directory (every private file mode 0600)::

    signing/<kid>.pem   Ed25519 report-signing keys (PKCS#8); signing/ACTIVE names one
    audit/<kid>.pem     Ed25519 audit checkpoint keys;           audit/ACTIVE names one
    data/<kid>.key      AES-256 data keys (32 raw bytes);        data/ACTIVE names one
    pseudonym.key       32 bytes for subject_ref HMACs (never rotated: refs must stay stable)
    signing-sm2/<kid>.pem  SM2 report-signing keys (PKCS#8);    signing-sm2/ACTIVE names one
    audit-sm2/<kid>.pem    SM2 audit checkpoint keys;           audit-sm2/ACTIVE names one
    signing/<kid>.pub   public key (PEM) of a key held in an HSM, kept so that what it
    audit/<kid>.pub     signed verifies without the HSM (see verifier.signing.hsm_keystore)

Old keys are kept after rotation so old reports verify and decrypt.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from verifier.signing import sm2
from verifier.signing.dsse import SigningKey
from verifier.signing.durable_write import replace_file
from verifier.signing.jwks import PublicKey, key_id
from verifier.signing.sm2 import Sm2KeyError, Sm2PrivateKey, Sm2PublicKey

SM2_KINDS = ("signing-sm2", "audit-sm2")
"""Directories of SM2 keys, made beside the Ed25519 ones where OpenSSL has SM2."""


class KeyStoreError(RuntimeError):
    """Keys are missing or unreadable. Messages name files, never key material."""


def signing_algorithms(configured: Sequence[str]) -> tuple[str, ...]:
    """What a deployment signs with: ``configured`` (``[keys] sign_with``) or, when that is
    empty, Ed25519 and — where the system's OpenSSL has SM2 — SM2 too."""
    if not configured:
        return ("ed25519", "sm2") if sm2.available() else ("ed25519",)
    if "sm2" in configured and not sm2.available():
        raise KeyStoreError(
            "keys.sign_with names sm2, but this system's OpenSSL has no SM2 (libcrypto 3 needed)"
        )
    return tuple(configured)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    replace_file(path, data)


@dataclass(frozen=True)
class DataKey:
    kid: str
    key: bytes


class KeyStore:
    """Reads and writes the key directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # -- creation -------------------------------------------------------------------
    def ensure(self) -> list[str]:
        """Create whatever keys are missing; returns what was created (kinds, not material)."""
        created: list[str] = []
        for kind in ("signing", "audit"):
            if not (self.directory / kind / "ACTIVE").exists():
                self._new_ed25519(kind)
                created.append(kind)
        for kind in SM2_KINDS if sm2.available() else ():
            if not (self.directory / kind / "ACTIVE").exists():
                self._new_sm2(kind)
                created.append(kind)
        if not (self.directory / "data" / "ACTIVE").exists():
            self._new_data_key()
            created.append("data")
        if not (self.directory / "pseudonym.key").exists():
            _write_private(self.directory / "pseudonym.key", secrets.token_bytes(32))
            created.append("pseudonym")
        return created

    def rotate(self) -> dict[str, str]:
        """New active signing, audit and data keys (SM2 ones too where OpenSSL has SM2);
        old ones stay for verification."""
        new = {
            "signing": self._new_ed25519("signing"),
            "audit": self._new_ed25519("audit"),
            "data": self._new_data_key(),
        }
        for kind in SM2_KINDS if sm2.available() else ():
            new[kind] = self._new_sm2(kind)
        return new

    def _new_ed25519(self, kind: str) -> str:
        key = Ed25519PrivateKey.generate()
        kid = key_id(key.public_key())
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        _write_private(self.directory / kind / f"{kid}.pem", pem)
        _write_private(self.directory / kind / "ACTIVE", kid.encode())
        return kid

    def _new_sm2(self, kind: str) -> str:
        key = Sm2PrivateKey.generate()
        kid = key_id(key.public_key())
        _write_private(self.directory / kind / f"{kid}.pem", key.to_pem())
        _write_private(self.directory / kind / "ACTIVE", kid.encode())
        return kid

    def _new_data_key(self) -> str:
        material = secrets.token_bytes(32)
        # The kid names the key without revealing it: a hash of a random label, not the key.
        kid = hashlib.sha256(secrets.token_bytes(16)).hexdigest()[:16]
        _write_private(self.directory / "data" / f"{kid}.key", material)
        _write_private(self.directory / "data" / "ACTIVE", kid.encode())
        return kid

    # -- reading --------------------------------------------------------------------
    def _read(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"missing key file {path}; run `hedui keys generate`") from None

    def _active(self, kind: str) -> str:
        return self._read(self.directory / kind / "ACTIVE").decode().strip()

    def _ed25519(self, kind: str, kid: str) -> Ed25519PrivateKey:
        key = load_pem_private_key(self._read(self.directory / kind / f"{kid}.pem"), None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyStoreError(f"{kind}/{kid}.pem is not an Ed25519 key")
        return key

    def signing_key(self) -> Ed25519PrivateKey:
        return self._ed25519("signing", self._active("signing"))

    def audit_key(self) -> Ed25519PrivateKey:
        return self._ed25519("audit", self._active("audit"))

    def public_keys(self, kind: str = "signing") -> list[Ed25519PublicKey]:
        """Every public key of ``kind`` ever active, the active one first (then the
        public keys of HSM-held keys, which verify what those signed)."""
        active = self._active(kind)
        kids = sorted(p.stem for p in (self.directory / kind).glob("*.pem"))
        kids.sort(key=lambda k: k != active)
        keys = [self._ed25519(kind, k).public_key() for k in kids]
        held = sorted((self.directory / kind).glob("*.pub"))
        return keys + [self._public(p) for p in held if p.stem not in kids]

    def _public(self, path: Path) -> Ed25519PublicKey:
        key = load_pem_public_key(self._read(path))
        if not isinstance(key, Ed25519PublicKey) or key_id(key) != path.stem:
            raise KeyStoreError(f"{path} is not the Ed25519 public key its name says")
        return key

    def remember_public(self, kind: str, key: Ed25519PublicKey) -> str:
        """Keep the public key of a key held elsewhere (an HSM) as ``<kind>/<kid>.pub``."""
        kid = key_id(key)
        path = self.directory / kind / f"{kid}.pub"
        if not path.exists():
            _write_private(path, key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        return kid

    def _sm2(self, kind: str, kid: str) -> Sm2PrivateKey:
        try:
            key = Sm2PrivateKey.from_pem(self._read(self.directory / kind / f"{kid}.pem"))
        except Sm2KeyError:
            raise KeyStoreError(f"{kind}/{kid}.pem is not an SM2 key") from None
        if key_id(key.public_key()) != kid:
            raise KeyStoreError(f"{kind}/{kid}.pem is not the key its name says")
        return key

    def sm2_key(self, kind: str = "signing") -> Sm2PrivateKey:
        """The active SM2 key of ``kind`` (``signing`` or ``audit``)."""
        return self._sm2(f"{kind}-sm2", self._active(f"{kind}-sm2"))

    def sm2_public_keys(self, kind: str = "signing") -> list[Sm2PublicKey]:
        """Every SM2 public key of ``kind`` ever active, the active one first; none where
        no SM2 key was ever made."""
        directory = self.directory / f"{kind}-sm2"
        if not (directory / "ACTIVE").exists():
            return []
        active = self._active(f"{kind}-sm2")
        kids = sorted((p.stem for p in directory.glob("*.pem")), key=lambda k: (k != active, k))
        return [self._sm2(f"{kind}-sm2", k).public_key() for k in kids]

    def keys_for(self, kind: str, algorithms: Sequence[str]) -> list[SigningKey]:
        """The active keys of ``kind`` that sign, one per algorithm (``ed25519``, ``sm2``),
        in the order given."""
        keys: list[SigningKey] = []
        for algorithm in algorithms:
            if algorithm == "sm2":
                keys.append(self.sm2_key(kind))
            elif kind == "audit":
                keys.append(self.audit_key())
            else:
                keys.append(self.signing_key())
        return keys

    def verifying_keys(self, kind: str = "signing") -> list[PublicKey]:
        """Every key that verifies what ``kind`` keys signed: Ed25519, then SM2."""
        return [*self.public_keys(kind), *self.sm2_public_keys(kind)]

    def data_keys(self) -> tuple[DataKey, dict[str, bytes]]:
        """The active data key, and every data key by kid (for decrypting old rows)."""
        active = self._active("data")
        all_keys = {p.stem: self._read(p) for p in (self.directory / "data").glob("*.key")}
        if active not in all_keys:
            raise KeyStoreError("data/ACTIVE names a key that is not there")
        return DataKey(active, all_keys[active]), all_keys

    def pseudonym_key(self) -> bytes:
        return self._read(self.directory / "pseudonym.key")
