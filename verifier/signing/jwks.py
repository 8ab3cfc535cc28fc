"""Public keys as a JWKS (RFC 7517) of RFC 8037 OKP/Ed25519 keys; kid = hex SHA-256(raw key)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class JwksError(ValueError):
    """A JWKS document is malformed or a key's kid does not match it."""


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """Lowercase hex SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(raw_public(key)).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def to_jwks(keys: Iterable[Ed25519PublicKey]) -> dict[str, Any]:
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": _b64url(raw_public(k)),
                "kid": key_id(k),
                "use": "sig",
                "alg": "EdDSA",
            }
            for k in keys
        ]
    }


def dumps_jwks(keys: Iterable[Ed25519PublicKey]) -> str:
    return json.dumps(to_jwks(keys), indent=2) + "\n"


def parse_jwks(text: str | bytes) -> dict[str, Ed25519PublicKey]:
    """``kid`` → public key. Refuses keys whose kid is not the SHA-256 of the key."""
    try:
        doc = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise JwksError("JWKS is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise JwksError('JWKS must be an object with a "keys" list')
    out: dict[str, Ed25519PublicKey] = {}
    for i, jwk in enumerate(doc["keys"]):
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        try:
            key = Ed25519PublicKey.from_public_bytes(_b64url_decode(str(jwk["x"])))
        except (KeyError, ValueError):
            raise JwksError(f"keys[{i}].x is not a 32-byte Ed25519 key") from None
        kid = key_id(key)
        if jwk.get("kid", kid) != kid:
            raise JwksError(f"keys[{i}].kid does not match its key")
        out[kid] = key
    if not out:
        raise JwksError("JWKS holds no Ed25519 key")
    return out
