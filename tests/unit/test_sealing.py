"""Sealing at rest: compressed, then AES-256-GCM bound to its row; older values still open."""

from __future__ import annotations

import json
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from verifier.storage.sealing import DEFLATED, Sealer, SealError

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
    assert sealed[:1] == DEFLATED
    assert len(sealed) < len(document) / 4
    assert SEALER.open(sealed, kid, "reports/v1/1") == document


@pytest.mark.parametrize("first", [b"\x01", b"\x00", b"\xff"], ids=["mark", "zero", "ff"])
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
