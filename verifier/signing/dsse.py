"""DSSE envelopes (github.com/secure-systems-lab/dsse) signed with Ed25519."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verifier.domain.envelope_layout import EnvelopeParts, envelope_bytes
from verifier.signing.jcs import canonical_bytes
from verifier.signing.jwks import key_id

REPORT_PAYLOAD_TYPE = "application/vnd.hedui.report+json; version=1"


class EnvelopeError(ValueError):
    """The envelope is malformed or its signature does not verify."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def sign_envelope(payload: bytes, payload_type: str, key: Ed25519PrivateKey) -> bytes:
    """The DSSE envelope JSON bytes over ``payload``, signed by ``key``."""
    sig = base64.b64encode(key.sign(pae(payload_type, payload))).decode()
    return envelope_bytes(EnvelopeParts(payload_type, payload, ((key_id(key.public_key()), sig),)))


@dataclass(frozen=True, slots=True)
class VerifiedEnvelope:
    payload_type: str
    payload: bytes
    key_id: str
    document: dict[str, Any]


def verify_envelope(
    envelope: bytes,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    payload_type: str = REPORT_PAYLOAD_TYPE,
) -> VerifiedEnvelope:
    """Verify a DSSE envelope against trusted public keys (``kid`` → key).

    Accepts only when a signature by a trusted key verifies, the payload type matches
    and the payload is exactly the RFC 8785 canonical form of the JSON it holds.
    """
    try:
        env = json.loads(envelope)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(
            f"envelope is not JSON: {exc.msg if hasattr(exc, 'msg') else exc}"
        ) from None
    if not isinstance(env, dict):
        raise EnvelopeError("envelope must be a JSON object")
    if env.get("payloadType") != payload_type:
        raise EnvelopeError(f"payloadType must be {payload_type!r}")
    try:
        payload = base64.b64decode(env.get("payload", ""), validate=True)
    except (binascii.Error, TypeError):
        raise EnvelopeError("payload is not valid base64") from None
    sigs = env.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        raise EnvelopeError("envelope has no signatures")
    message = pae(payload_type, payload)
    verified_kid = None
    for s in sigs:
        if not isinstance(s, dict):
            continue
        kid = s.get("keyid")
        if not isinstance(kid, str) or kid not in keys:
            continue
        try:
            keys[kid].verify(base64.b64decode(s.get("sig", ""), validate=True), message)
        except (InvalidSignature, binascii.Error, TypeError):
            raise EnvelopeError(f"signature by key {kid[:16]}… does not verify") from None
        verified_kid = kid
        break
    if verified_kid is None:
        raise EnvelopeError("no signature by a trusted key")
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EnvelopeError("payload is not JSON") from None
    if not isinstance(document, dict):
        raise EnvelopeError("payload must be a JSON object")
    if canonical_bytes(document) != payload:
        raise EnvelopeError("payload is not in RFC 8785 canonical form")
    return VerifiedEnvelope(payload_type, payload, verified_kid, document)
