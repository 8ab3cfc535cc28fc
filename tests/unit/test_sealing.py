"""Sealing at rest: compressed, then AES-256-GCM or SM4-GCM bound to its row; old values open."""

from __future__ import annotations

import json
import os
import zlib

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from verifier.storage.sealing import (
    DEFLATED,
    SM4_DEFLATED,
    SM4_ZSTD,
    SM4_ZSTD_ON_BASE,
    ZSTD,
    ZSTD_ON_BASE,
    Sealer,
    SealError,
    sm4_gcm_seal,
    sm4_key,
)

KEY = bytes(range(32))
SEALER = Sealer("dk-1", {"dk-1": KEY})


def legacy_seal(plaintext: bytes, aad: str, nonce: bytes | None = None) -> bytes:
    """A value as it was sealed before compression: nonce ‖ ciphertext, the row as AAD."""
    nonce = nonce or os.urandom(12)
    return nonce + AESGCM(KEY).encrypt(nonce, plaintext, aad.encode())


def test_a_sealed_value_opens_in_its_own_row_only() -> None:
    sealed, kid = SEALER.seal(b"records", "source_outcomes/v1/0/tax")
    assert kid == "dk-1"
    assert SEALER.open(sealed, kid, "source_outcomes/v1/0/tax") == b"records"
    with pytest.raises(SealError):
        SEALER.open(sealed, kid, "source_outcomes/v1/1/tax")


def test_a_report_sized_value_is_stored_compressed() -> None:
    document = json.dumps(
        [{"category": "wages", "amount_fen": 360_000 + i, "period": "2025-01"} for i in range(400)]
    ).encode()
    sealed, kid = SEALER.seal(document, "reports/v1/1")
    assert sealed[:1] == ZSTD
    assert len(sealed) < len(document) / 4
    assert SEALER.open(sealed, kid, "reports/v1/1") == document


@pytest.mark.parametrize(
    "first", [bytes([b]) for b in (0, 1, 2, 3, 4, 5, 6, 255)], ids=lambda b: f"0x{b.hex()}"
)
def test_values_sealed_before_compression_still_open(first: bytes) -> None:
    # A random nonce begins with the format byte one time in 256: the authenticated format
    # check tells the two apart, so such a value opens as the plain value it is.
    nonce = first + os.urandom(11)
    sealed = legacy_seal(b'{"payload": "x"}', "reports/v1/1", nonce)
    assert SEALER.open(sealed, "dk-1", "reports/v1/1") == b'{"payload": "x"}'


def test_a_flipped_format_byte_does_not_open() -> None:
    sealed, kid = SEALER.seal(b"ticket-123", "tickets/v1/0/bank")
    with pytest.raises(SealError):
        SEALER.open(b"\x02" + sealed[1:], kid, "tickets/v1/0/bank")
    with pytest.raises(SealError):
        SEALER.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), kid, "tickets/v1/0/bank")


def test_an_unknown_key_is_named_not_guessed() -> None:
    sealed, _ = SEALER.seal(b"x", "reports/v1/1")
    with pytest.raises(SealError, match="dk-2 is not available"):
        SEALER.open(sealed, "dk-2", "reports/v1/1")


SM4_SEALER = Sealer("dk-1", {"dk-1": KEY}, "sm4-gcm")


def test_sm4_gcm_is_the_standard_one() -> None:
    # RFC 8998 Appendix A.1 (SM4-GCM): key, IV, AAD, plaintext → ciphertext ‖ tag.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    enc = Cipher(algorithms.SM4(key), modes.GCM(bytes.fromhex("00001234567800000000ABCD")))
    encryptor = enc.encryptor()
    encryptor.authenticate_additional_data(
        bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    )
    plain = bytes.fromhex("".join(c * 16 for c in "ABCDEFEA"))
    out = encryptor.update(plain) + encryptor.finalize()
    assert out.hex().upper() == (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    )
    assert encryptor.tag.hex().upper() == "83DE3541E4C2B58177E065A9BF7B62EC"


def test_sm4_sealed_values_open_in_their_row_only_and_with_either_setting() -> None:
    sealed, kid = SM4_SEALER.seal(b"records", "source_outcomes/v1/0/tax")
    assert sealed[:1] == SM4_ZSTD
    # The format byte says how it was sealed: a deployment that switched back still opens it.
    for sealer in (SM4_SEALER, SEALER):
        assert sealer.open(sealed, kid, "source_outcomes/v1/0/tax") == b"records"
    with pytest.raises(SealError):
        SM4_SEALER.open(sealed, kid, "source_outcomes/v1/1/tax")
    with pytest.raises(SealError):
        SM4_SEALER.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), kid, "source_outcomes/v1/0/tax")
    # The same bytes under the AES mark do not open either: the algorithm is authenticated.
    with pytest.raises(SealError):
        SM4_SEALER.open(ZSTD + sealed[1:], kid, "source_outcomes/v1/0/tax")


def test_values_sealed_before_sm4_was_chosen_still_open() -> None:
    aes, kid = SEALER.seal(b"older", "reports/v1/1")
    assert SM4_SEALER.open(aes, kid, "reports/v1/1") == b"older"
    nonce = SM4_DEFLATED + os.urandom(11)
    legacy = legacy_seal(b"oldest", "reports/v1/1", nonce)
    assert SM4_SEALER.open(legacy, "dk-1", "reports/v1/1") == b"oldest"


def test_the_sm4_key_is_derived_not_truncated() -> None:
    assert sm4_key(KEY) not in (KEY[:16], KEY[16:])
    assert sm4_key(KEY) != sm4_key(bytes(32))
    assert len(sm4_key(KEY)) == 16


def test_values_compressed_with_zlib_by_older_releases_still_open() -> None:
    nonce = os.urandom(12)
    packed = zlib.compress(b"records of 2025", 6)
    aes = DEFLATED + nonce + AESGCM(KEY).encrypt(nonce, packed, b"reports/v1/1#deflate")
    sm4 = SM4_DEFLATED + nonce + sm4_gcm_seal(KEY, nonce, packed, b"reports/v1/1#sm4-gcm+deflate")
    for sealed in (aes, sm4):
        assert SEALER.open(sealed, "dk-1", "reports/v1/1") == b"records of 2025"


def _versions() -> tuple[bytes, bytes]:
    rows = [
        {"category": "wages", "amount_fen": 360_000 + i, "period": "2025-01"} for i in range(900)
    ]
    first = json.dumps({"version": 1, "records": rows}).encode()
    later = json.dumps({"version": 2, "records": [*rows, {"category": "deposit"}]}).encode()
    assert len(first) > 32 * 1024  # beyond what a zlib preset dictionary reaches
    return first, later


@pytest.mark.parametrize("sealer", [SEALER, SM4_SEALER], ids=["aes", "sm4"])
def test_a_later_version_costs_what_changed_and_opens_with_its_base(sealer: Sealer) -> None:
    first, later = _versions()
    alone, _ = sealer.seal(later, "reports/v1/2")
    sealed, kid = sealer.seal(later, "reports/v1/2", base=first)
    assert sealed[:1] in (ZSTD_ON_BASE, SM4_ZSTD_ON_BASE) and sealer.needs_base(sealed)
    assert not sealer.needs_base(alone)
    assert len(sealed) < len(alone) / 10
    assert sealer.open(sealed, kid, "reports/v1/2", base=first) == later


def test_a_value_on_a_base_does_not_open_without_it_or_with_another() -> None:
    first, later = _versions()
    sealed, kid = SEALER.seal(later, "reports/v1/2", base=first)
    with pytest.raises(SealError, match="needs its own base"):
        SEALER.open(sealed, kid, "reports/v1/2")
    with pytest.raises(SealError, match="needs its own base"):
        SEALER.open(sealed, kid, "reports/v1/2", base=first + b" ")
    # The base's digest beside the ciphertext is authenticated: changing it does not open.
    forged = sealed[:1] + bytes([sealed[1] ^ 1]) + sealed[2:]
    with pytest.raises(SealError):
        SEALER.open(forged, kid, "reports/v1/2", base=first)


def test_reseal_changes_key_and_algorithm_not_compression_and_needs_no_base() -> None:
    first, later = _versions()
    sealed, kid = SEALER.seal(later, "reports/v1/2", base=first)
    rotated = Sealer("dk-2", {"dk-1": KEY, "dk-2": bytes(32)}, "sm4-gcm")
    again, new_kid = rotated.reseal(sealed, kid, "reports/v1/2")
    assert new_kid == "dk-2" and again[:1] == SM4_ZSTD_ON_BASE
    assert rotated.open(again, new_kid, "reports/v1/2", base=first) == later
    legacy = legacy_seal(b"old ticket", "tickets/v1/0/bank")
    again, _ = rotated.reseal(legacy, "dk-1", "tickets/v1/0/bank")
    assert again[:1] == SM4_ZSTD
    assert rotated.open(again, "dk-2", "tickets/v1/0/bank") == b"old ticket"
