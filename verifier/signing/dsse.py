"""DSSE envelopes (github.com/secure-systems-lab/dsse) with one or several signatures.

An envelope is signed by every key a deployment signs with: Ed25519, SM2 (with SM3 and
the default distinguishing ID, DER in ``sig``), or both. Each signature covers the same
PAE bytes and verifies alone; the ``keyid`` says which published key made it, and so
which algorithm (the JWKS entry's).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.domain.envelope_layout import EnvelopeParts, envelope_bytes
from verifier.signing.jcs import canonical_bytes
from verifier.signing.jwks import PublicKey, key_id
from verifier.signing.sm2 import Sm2PrivateKey

SigningKey = Ed25519PrivateKey | Sm2PrivateKey
"""A key that signs envelopes (an HSM-held Ed25519 key is an Ed25519PrivateKey)."""

REPORT_PAYLOAD_TYPE = "application/vnd.hedui.report+json; version=1"


class EnvelopeError(ValueError):
    """The envelope is malformed or its signature does not verify."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def signing_keys(key: SigningKey | Sequence[SigningKey]) -> tuple[SigningKey, ...]:
    """One key or several as a non-empty tuple."""
    keys = (key,) if isinstance(key, SigningKey) else tuple(key)
    if not keys:
        raise ValueError("an envelope needs at least one signing key")
    return keys


def sign_envelope(
    payload: bytes, payload_type: str, key: SigningKey | Sequence[SigningKey]
) -> bytes:
    """The DSSE envelope JSON bytes over ``payload``, signed by ``key`` (or by each of
    several keys, in their order)."""
    keys = signing_keys(key)
    message = pae(payload_type, payload)
    sigs = tuple((key_id(k.public_key()), base64.b64encode(k.sign(message)).decode()) for k in keys)
    return envelope_bytes(EnvelopeParts(payload_type, payload, sigs))


@dataclass(frozen=True, slots=True)
class VerifiedEnvelope:
    payload_type: str
    payload: bytes
    key_id: str
    """The first trusted key whose signature verified."""
    document: dict[str, Any]
    key_ids: tuple[str, ...] = ()
    """Every trusted key whose signature verified, in the envelope's order."""


def unverified_document(envelope: bytes) -> dict[str, Any]:
    """The JSON document an envelope carries, WITHOUT checking any signature: for
    envelopes this service released and reads back from its own store, or for showing a
    document whose signature is reported separately. :class:`EnvelopeError` when the
    envelope or its payload is not a JSON object."""
    try:
        document = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, binascii.Error):
        raise EnvelopeError("not a DSSE envelope with a JSON payload") from None
    if not isinstance(document, dict):
        raise EnvelopeError("payload must be a JSON object")
    return document


def verify_envelope(
    envelope: bytes,
    keys: Mapping[str, PublicKey],
    *,
    payload_type: str = REPORT_PAYLOAD_TYPE,
) -> VerifiedEnvelope:
    """Verify a DSSE envelope against trusted public keys (``kid`` → key).

    Accepts only when at least one signature is by a trusted key, every signature by a
    trusted key verifies, the payload type matches and the payload is exactly the
    RFC 8785 canonical form of the JSON it holds. Signatures by keys not in ``keys`` are
    passed over: a verifier that trusts only the Ed25519 key (or only the SM2 key)
    accepts an envelope both signed. Every refusal is an :class:`EnvelopeError`, also a
    trusted signature that cannot be checked here (a libcrypto without SM2).
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
    verified: list[str] = []
    for s in sigs:
        if not isinstance(s, dict):
            continue
        kid = s.get("keyid")
        if not isinstance(kid, str) or kid not in keys:
            continue
        try:
            keys[kid].verify(base64.b64decode(s.get("sig", ""), validate=True), message)
        except (InvalidSignature, binascii.Error, TypeError, ValueError):
            raise EnvelopeError(f"signature by key {kid[:16]}… does not verify") from None
        except RuntimeError as exc:  # libcrypto could not set up the check (e.g. no SM2)
            raise EnvelopeError(
                f"signature by key {kid[:16]}… cannot be checked here: {exc}"
            ) from None
        verified.append(kid)
    if not verified:
        raise EnvelopeError("no signature by a trusted key")
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EnvelopeError("payload is not JSON") from None
    if not isinstance(document, dict):
        raise EnvelopeError("payload must be a JSON object")
    if canonical_bytes(document) != payload:
        raise EnvelopeError("payload is not in RFC 8785 canonical form")
    return VerifiedEnvelope(payload_type, payload, verified[0], document, tuple(verified))
