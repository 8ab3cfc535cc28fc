"""Encryption at rest: AES-256-GCM or SM4-GCM, with the row's identity as associated data.

Binding the ciphertext to its row (``table/id``) means a sealed value copied into another
row does not open. The key id travels with the row so old rows open after rotation.

Values are compressed before they are sealed (ciphertext does not compress): a report
envelope shrinks about six times, and what one check leaves behind is dominated by its
sealed reports. The algorithm and the compression are marked by a leading format byte
outside the ciphertext *and* by its associated data, so the format is authenticated too:
an older value whose random nonce happens to begin with a format byte fails that check
and opens as the plain value it is.

A value may also be compressed against a *base*: a report's later version against its
first, which it mostly repeats, so it costs what changed (about 0.5 KB instead of 5).
zstd takes the base as a raw-content dictionary of any size (zlib's preset dictionary
reaches back only 32 KB, less than one report). The base's digest (the first 8 bytes of
its SHA-256) is kept beside the ciphertext and authenticated with it, so such a value
opens only with the same base, and is re-encrypted under a new key without it.

=====  ==============================================================  ================
byte   value                                                           written by
=====  ==============================================================  ================
none   nonce(12) ‖ AES-256-GCM(value)                                  the first release
0x01   nonce(12) ‖ AES-256-GCM(zlib(value))                            older releases
0x02   nonce(12) ‖ SM4-GCM(zlib(value)) ‖ tag(16)                      older releases
0x03   nonce(12) ‖ AES-256-GCM(zstd(value))                            AES (default)
0x04   digest(8) ‖ nonce(12) ‖ AES-256-GCM(zstd(value; base))          AES, with a base
0x05   nonce(12) ‖ SM4-GCM(zstd(value)) ‖ tag(16)                      SM4
0x06   digest(8) ‖ nonce(12) ‖ SM4-GCM(zstd(value; base)) ‖ tag(16)    SM4, with a base
=====  ==============================================================  ================

SM4-GCM (GB/T 32907 with GCM, as RFC 8998 uses it) takes a 128-bit key: it is derived
from the row's 256-bit data key by HKDF with SM3 (GB/T 32905), so one data key serves
either algorithm, and rotation and re-wrapping work the same. Which algorithm *new*
values use is the deployment's choice (``[keys] seal_with``); every value opens whatever
was chosen since.
"""

from __future__ import annotations

import functools
import hashlib
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SealAlgorithm = Literal["aes-256-gcm", "sm4-gcm"]
SEAL_ALGORITHMS: tuple[SealAlgorithm, ...] = ("aes-256-gcm", "sm4-gcm")
Packing = Literal["zlib", "zstd", "zstd-base"]


@dataclass(frozen=True)
class _Format:
    byte: bytes
    cipher: SealAlgorithm
    packing: Packing
    label: str  # appended to the associated data

    @property
    def digest_bytes(self) -> int:
        return BASE_DIGEST_BYTES if self.packing == "zstd-base" else 0


BASE_DIGEST_BYTES = 8
_FORMATS = (
    _Format(b"\x01", "aes-256-gcm", "zlib", "#deflate"),
    _Format(b"\x02", "sm4-gcm", "zlib", "#sm4-gcm+deflate"),
    _Format(b"\x03", "aes-256-gcm", "zstd", "#zstd"),
    _Format(b"\x04", "aes-256-gcm", "zstd-base", "#zstd-base:"),
    _Format(b"\x05", "sm4-gcm", "zstd", "#sm4-gcm+zstd"),
    _Format(b"\x06", "sm4-gcm", "zstd-base", "#sm4-gcm+zstd-base:"),
)
_BY_BYTE = {f.byte: f for f in _FORMATS}
_BY_KIND = {(f.cipher, f.packing): f for f in _FORMATS}

DEFLATED, SM4_DEFLATED, ZSTD, ZSTD_ON_BASE, SM4_ZSTD, SM4_ZSTD_ON_BASE = (f.byte for f in _FORMATS)
_LEVEL = 9  # zstd: near its best ratio on reports, at a fraction of a millisecond
_TAG = 16


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

    def seal(self, plaintext: bytes, aad: str, *, base: bytes = b"") -> tuple[bytes, str]:
        """``plaintext`` compressed and sealed; with ``base``, compressed against it (the
        same base is needed to open it)."""
        if not base:
            packed = zstandard.compress(plaintext, _LEVEL)
            return self._encrypt(_BY_KIND[self.algorithm, "zstd"], b"", packed, aad)
        packer = zstandard.ZstdCompressor(level=_LEVEL, dict_data=_dictionary(base))
        form = _BY_KIND[self.algorithm, "zstd-base"]
        return self._encrypt(form, base_digest_of(base), packer.compress(plaintext), aad)

    @staticmethod
    def base_digest(sealed: bytes) -> bytes:
        """The digest of the base ``sealed`` names (empty if it names none; only opening it
        proves the format)."""
        form = _BY_BYTE.get(sealed[:1])
        return sealed[1 : 1 + form.digest_bytes] if form is not None else b""

    @staticmethod
    def needs_base(sealed: bytes) -> bool:
        """Whether ``sealed`` may have been compressed against a base (its format byte
        says so; only opening it proves the format)."""
        form = _BY_BYTE.get(sealed[:1])
        return form is not None and form.packing == "zstd-base"

    def open(self, sealed: bytes, kid: str, aad: str, *, base: bytes = b"") -> bytes:
        form, digest, inner = self._decrypt(sealed, kid, aad)
        if form is None:
            return inner
        if form.packing == "zlib":
            return zlib.decompress(inner)
        if form.packing == "zstd":
            return zstandard.decompress(inner)
        if not base or base_digest_of(base) != digest:
            raise SealError(f"sealed value for {_table(aad)} needs its own base to open")
        return zstandard.ZstdDecompressor(dict_data=_dictionary(base)).decompress(inner)

    def reseal(self, sealed: bytes, kid: str, aad: str) -> tuple[bytes, str]:
        """``sealed`` under the active key and algorithm, compressed as it was: nothing is
        decompressed (nor a base needed); a value from before compression is compressed."""
        form, digest, inner = self._decrypt(sealed, kid, aad)
        if form is None:
            return self.seal(inner, aad)
        return self._encrypt(_BY_KIND[self.algorithm, form.packing], digest, inner, aad)

    def _encrypt(self, form: _Format, digest: bytes, packed: bytes, aad: str) -> tuple[bytes, str]:
        key = self.keys.get(self.active_kid)
        if key is None:
            raise SealError("no active data key to seal with")
        nonce = os.urandom(12)
        full = _aad(aad, form, digest)
        if form.cipher == "sm4-gcm":
            ct = sm4_gcm_seal(key, nonce, packed, full)
        else:
            ct = AESGCM(key).encrypt(nonce, packed, full)
        return form.byte + digest + nonce + ct, self.active_kid

    def _decrypt(self, sealed: bytes, kid: str, aad: str) -> tuple[_Format | None, bytes, bytes]:
        """The value's format (None for a value sealed before compression), its base's
        digest (empty unless compressed against a base) and the decrypted bytes."""
        key = self.keys.get(kid)
        if key is None:
            raise SealError(f"data key {kid} is not available")
        form = _BY_BYTE.get(sealed[:1])
        if form is not None:
            n = 1 + form.digest_bytes
            digest, nonce, ct = sealed[1:n], sealed[n : n + 12], sealed[n + 12 :]
            try:
                if form.cipher == "sm4-gcm":
                    return form, digest, sm4_gcm_open(key, nonce, ct, _aad(aad, form, digest))
                return form, digest, AESGCM(key).decrypt(nonce, ct, _aad(aad, form, digest))
            except InvalidTag:
                pass  # a value sealed before compression whose nonce began with the mark
        try:
            return None, b"", AESGCM(key).decrypt(sealed[:12], sealed[12:], aad.encode())
        except InvalidTag:
            raise SealError(f"sealed value for {_table(aad)} does not open") from None


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


def _aad(aad: str, form: _Format, digest: bytes) -> bytes:
    return (aad + form.label + digest.hex()).encode()


def base_digest_of(base: bytes) -> bytes:
    """The digest a value sealed against ``base`` names."""
    return hashlib.sha256(base).digest()[:BASE_DIGEST_BYTES]


def _dictionary(base: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _table(aad: str) -> str:
    return aad.split("/")[0]
