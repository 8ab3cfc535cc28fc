"""Signing report documents: RFC 8785 bytes in a DSSE envelope, Ed25519."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.signing.dsse import REPORT_PAYLOAD_TYPE, sign_envelope
from verifier.signing.jcs import canonical_bytes
from verifier.signing.jwks import key_id


@dataclass(frozen=True, slots=True)
class SignedReport:
    envelope: bytes
    envelope_sha256: str
    key_id: str


class ReportSigner:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.key_id = key_id(key.public_key())

    def sign(self, document: Mapping[str, Any]) -> SignedReport:
        envelope = sign_envelope(canonical_bytes(dict(document)), REPORT_PAYLOAD_TYPE, self._key)
        return SignedReport(envelope, hashlib.sha256(envelope).hexdigest(), self.key_id)
