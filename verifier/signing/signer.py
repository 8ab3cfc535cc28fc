"""Signing report documents: RFC 8785 bytes in a DSSE envelope, by Ed25519 and/or SM2 keys."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verifier.signing.dsse import REPORT_PAYLOAD_TYPE, SigningKey, sign_envelope, signing_keys
from verifier.signing.jcs import canonical_bytes
from verifier.signing.jwks import key_id


@dataclass(frozen=True, slots=True)
class SignedReport:
    envelope: bytes
    envelope_sha256: str
    key_id: str


class ReportSigner:
    """Signs with one key or several (each signature verifies alone); ``key_id`` names
    the first."""

    def __init__(self, key: SigningKey | Sequence[SigningKey]) -> None:
        self._keys = signing_keys(key)
        self.key_id = key_id(self._keys[0].public_key())

    def sign(self, document: Mapping[str, Any]) -> SignedReport:
        envelope = sign_envelope(canonical_bytes(dict(document)), REPORT_PAYLOAD_TYPE, self._keys)
        return SignedReport(envelope, hashlib.sha256(envelope).hexdigest(), self.key_id)
