"""Public keys as a JWKS (RFC 7517): Ed25519 and SM2 keys, ``kid`` = hex SHA-256 of the key.

* Ed25519: RFC 8037 ``{"kty": "OKP", "crv": "Ed25519", "x", "alg": "EdDSA"}``;
  kid = SHA-256 of the raw 32-byte key.
* SM2 (GB/T 32918, recommended curve): ``{"kty": "EC", "crv": "SM2", "x", "y",
  "alg": "SM2SM3"}`` with x and y the 32-byte coordinates, base64url — the RFC 7518 EC
  form with the curve name SM2 libraries and the (expired) draft-dang-webauthn-sm2 use;
  no JOSE registry names SM2, so ``alg`` says what hedui means: an SM2 signature over
  SM3 with the default distinguishing ID, DER-encoded. kid = SHA-256 of the 65-byte
  uncompressed point ``04 || x || y``.

A reader that knows only Ed25519 skips the SM2 entries (RFC 7517 §5: unknown key types
are ignored), and so does :func:`parse_jwks` for key types it does not know.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verifier.signing.sm2 import Sm2KeyError, Sm2PublicKey, Sm2Unavailable

PublicKey = Ed25519PublicKey | Sm2PublicKey
"""A key that verifies hedui's signatures."""

SM2_ALG = "SM2SM3"


class JwksError(ValueError):
    """A JWKS document is malformed or a key's kid does not match it."""


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: PublicKey) -> str:
    """Lowercase hex SHA-256 of the raw key: Ed25519's 32 bytes, SM2's 65-byte point."""
    raw = key.point() if isinstance(key, Sm2PublicKey) else raw_public(key)
    return hashlib.sha256(raw).hexdigest()


def algorithm(key: PublicKey) -> str:
    """``ed25519`` or ``sm2``: the names the configuration's ``keys.sign_with`` uses."""
    return "sm2" if isinstance(key, Sm2PublicKey) else "ed25519"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def to_jwk(key: PublicKey) -> dict[str, Any]:
    if isinstance(key, Sm2PublicKey):
        point = key.point()
        return {
            "kty": "EC",
            "crv": "SM2",
            "x": _b64url(point[1:33]),
            "y": _b64url(point[33:]),
            "kid": key_id(key),
            "use": "sig",
            "alg": SM2_ALG,
        }
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(raw_public(key)),
        "kid": key_id(key),
        "use": "sig",
        "alg": "EdDSA",
    }


def to_jwks(keys: Iterable[PublicKey]) -> dict[str, Any]:
    return {"keys": [to_jwk(k) for k in keys]}


def dumps_jwks(keys: Iterable[PublicKey]) -> str:
    return json.dumps(to_jwks(keys), indent=2) + "\n"


def _coordinate(jwk: dict[str, Any], name: str, i: int) -> bytes:
    try:
        value = _b64url_decode(str(jwk[name]))
    except (KeyError, ValueError, binascii.Error):
        value = b""
    if len(value) != 32:
        raise JwksError(f"keys[{i}].{name} is not a 32-byte SM2 coordinate")
    return value


def _parse_one(jwk: Any, i: int) -> PublicKey | None:
    if not isinstance(jwk, dict):
        return None
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        try:
            return Ed25519PublicKey.from_public_bytes(_b64url_decode(str(jwk["x"])))
        except (KeyError, ValueError):
            raise JwksError(f"keys[{i}].x is not a 32-byte Ed25519 key") from None
    if jwk.get("kty") == "EC" and jwk.get("crv") == "SM2":
        point = b"\x04" + _coordinate(jwk, "x", i) + _coordinate(jwk, "y", i)
        try:
            return Sm2PublicKey.from_point(point)
        except Sm2KeyError:
            raise JwksError(f"keys[{i}] is not a point of the SM2 curve") from None
        except Sm2Unavailable:
            return None  # this machine cannot verify SM2: the Ed25519 keys still serve
    return None


def parse_jwks(text: str | bytes) -> dict[str, PublicKey]:
    """``kid`` → public key. Refuses keys whose kid is not the SHA-256 of the key."""
    try:
        doc = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise JwksError("JWKS is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise JwksError('JWKS must be an object with a "keys" list')
    out: dict[str, PublicKey] = {}
    for i, jwk in enumerate(doc["keys"]):
        key = _parse_one(jwk, i)
        if key is None:
            continue
        kid = key_id(key)
        if jwk.get("kid", kid) != kid:
            raise JwksError(f"keys[{i}].kid does not match its key")
        out[kid] = key
    if not out:
        raise JwksError("JWKS holds no Ed25519 or SM2 key")
    return out
