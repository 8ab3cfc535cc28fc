"""Signing change documents: RFC 8785 bytes in a DSSE envelope of their own payload type.

The envelope is the report's (:mod:`verifier.signing.dsse`) with payload type
``application/vnd.hedui.changes+json; version=1``, so a change document can never be
passed off as a report, nor a report as a change document: DSSE signs the payload type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verifier.domain.changes import SCHEMA, ReportVersion
from verifier.signing.dsse import (
    REPORT_PAYLOAD_TYPE,
    EnvelopeError,
    SigningKey,
    VerifiedEnvelope,
    sign_envelope,
    signing_keys,
    verify_envelope,
)
from verifier.signing.jcs import canonical_bytes
from verifier.signing.jwks import PublicKey, key_id

CHANGES_PAYLOAD_TYPE = "application/vnd.hedui.changes+json; version=1"


@dataclass(frozen=True, slots=True)
class SignedChanges:
    envelope: bytes
    envelope_sha256: str
    key_id: str


class ChangeSigner:
    def __init__(self, key: SigningKey | Sequence[SigningKey]) -> None:
        self._keys = signing_keys(key)
        self.key_id = key_id(self._keys[0].public_key())

    def sign(self, document: Mapping[str, Any]) -> SignedChanges:
        """The DSSE envelope over the document's RFC 8785 bytes."""
        if document.get("schema") != SCHEMA:
            raise ValueError(f"not a change document: schema must be {SCHEMA!r}")
        envelope = sign_envelope(canonical_bytes(dict(document)), CHANGES_PAYLOAD_TYPE, self._keys)
        return SignedChanges(envelope, hashlib.sha256(envelope).hexdigest(), self.key_id)


def verify_changes(envelope: bytes, keys: Mapping[str, PublicKey]) -> VerifiedEnvelope:
    """Verify a change document's envelope against trusted keys (``kid`` → key).

    Raises :class:`EnvelopeError` unless a trusted key signed it, the payload type is the
    change document's, the payload is canonical, and the document says it is one.
    """
    verified = verify_envelope(envelope, keys, payload_type=CHANGES_PAYLOAD_TYPE)
    if verified.document.get("schema") != SCHEMA:
        raise EnvelopeError(f"payload schema must be {SCHEMA!r}")
    return verified


def report_version(
    envelope: bytes,
    keys: Mapping[str, PublicKey],
    *,
    household_ref: str,
    member_refs: Sequence[str],
) -> ReportVersion:
    """A signed report, verified, as a comparison takes it: the document it signs and the
    SHA-256 of these exact envelope bytes (how version n+1 names version n).

    Raises :class:`EnvelopeError` when the envelope does not verify as a report.
    """
    verified = verify_envelope(envelope, keys, payload_type=REPORT_PAYLOAD_TYPE)
    return ReportVersion(
        verified.document,
        hashlib.sha256(envelope).hexdigest(),
        household_ref,
        tuple(member_refs),
    )


__all__ = [
    "CHANGES_PAYLOAD_TYPE",
    "ChangeSigner",
    "SignedChanges",
    "report_version",
    "verify_changes",
]
