"""Encryption at rest: AES-256-GCM or SM4-GCM, with the row's identity as associated data.

Binding the ciphertext to its row (``table/id``) means a sealed value copied into another
row does not open. The key id travels with the row so old rows open after rotation.

Values are compressed before they are sealed (ciphertext does not compress): a report
envelope shrinks about five times, and what one check leaves behind is dominated by its
sealed reports and records. The algorithm and the compression are marked by a leading
format byte outside the ciphertext *and* by its associated data, so the format is
authenticated too: an older value whose random nonce happens to begin with a format byte
fails that check and opens as the plain value it is.

=====  ================================================  ==========================
byte   value                                             since
=====  ================================================  ==========================
none   nonce(12) ‖ AES-256-GCM(value)                    the first release
0x01   nonce(12) ‖ AES-256-GCM(zlib(value))              compression
0x02   nonce(12) ‖ SM4-GCM(zlib(value)) ‖ tag(16)        ``[keys] seal_with = "sm4-gcm"``
=====  ================================================  ==========================

SM4-GCM (GB/T 32907 with GCM, as RFC 8998 uses it) takes a 128-bit key: it is derived
from the row's 256-bit data key by HKDF with SM3 (GB/T 32905), so one data key serves
either algorithm, and rotation and re-wrapping work the same. Which algorithm *new*
values use is the deployment's choice; every value opens whatever was chosen since.
"""

from __future__ import annotations

import functools
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SealAlgorithm = Literal["aes-256-gcm", "sm4-gcm"]
SEAL_ALGORITHMS: tuple[SealAlgorithm, ...] = ("aes-256-gcm", "sm4-gcm")


class SealError(RuntimeError):
    """A sealed value could not be opened (wrong key, wrong row, or tampered)."""


@dataclass(frozen=True)
class Sealer:
    active_kid: str
    keys: Mapping[str, bytes]
    algorithm: SealAlgorithm = "aes-256-gcm"
    """What new values are sealed with; values of either algorithm open."""

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
        packed = zlib.compress(plaintext, 6)
        if self.algorithm == "sm4-gcm":
            return SM4_DEFLATED + nonce + sm4_gcm_seal(
                key, nonce, packed, _sm4(aad)
            ), self.active_kid
        ct = AESGCM(key).encrypt(nonce, packed, _deflated(aad))
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
        elif sealed[:1] == SM4_DEFLATED:
            try:
                packed = sm4_gcm_open(key, sealed[1:13], sealed[13:], _sm4(aad))
            except InvalidTag:
                pass  # likewise
            else:
                return zlib.decompress(packed)
        try:
            return aead.decrypt(sealed[:12], sealed[12:], aad.encode())
        except InvalidTag:
            raise SealError(f"sealed value for {aad.split('/')[0]} does not open") from None


DEFLATED = b"\x01"
"""The format byte of a value compressed (zlib) before it was sealed with AES-256-GCM."""

SM4_DEFLATED = b"\x02"
"""The format byte of a value compressed (zlib) before it was sealed with SM4-GCM."""

_TAG = 16


@functools.lru_cache(maxsize=64)
def sm4_key(data_key: bytes) -> bytes:
    """The 128-bit SM4 key of a data key: HKDF-SM3 with a label of its own."""
    return HKDF(hashes.SM3(), 16, salt=None, info=b"hedui/seal/sm4-gcm").derive(data_key)


def sm4_gcm_seal(data_key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """SM4-GCM ciphertext ‖ 16-byte tag (OpenSSL's SM4 through ``cryptography``)."""
    enc = Cipher(algorithms.SM4(sm4_key(data_key)), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def sm4_gcm_open(data_key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of :func:`sm4_gcm_seal`'s output; :class:`InvalidTag` if it is not."""
    if len(sealed) < _TAG:
        raise InvalidTag()
    tag = sealed[-_TAG:]
    dec = Cipher(algorithms.SM4(sm4_key(data_key)), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(sealed[:-_TAG]) + dec.finalize()


def _deflated(aad: str) -> bytes:
    return (aad + "#deflate").encode()


def _sm4(aad: str) -> bytes:
    return (aad + "#sm4-gcm+deflate").encode()
