"""Page tokens (AIP-158): opaque to callers, tamper-checked, bound to their filters.

A token is ``base64url(payload) "." base64url(tag)``, the payload the JSON of the last
key of the page and a digest of the filters it was issued for, the tag a truncated
HMAC-SHA256 under a key derived from the pseudonym key. A token that was altered, made
up, or issued for other filters is refused as ``page_token``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping

from verifier.domain.errors import FieldViolation, InvalidArgument

__all__ = ["PageTokens"]

_TOKEN = re.compile(r"[A-Za-z0-9_\-]{4,700}\.[A-Za-z0-9_\-]{22}", re.ASCII)
_TAG_BYTES = 16
TOKEN_MAX = 723


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokens:
    """Tokens of one listing (``kind``), keyed from the deployment's pseudonym key."""

    def __init__(self, pseudonym_key: bytes, kind: str) -> None:
        self._key = hmac.new(pseudonym_key, f"hedui page token:{kind}".encode(), "sha256").digest()

    @staticmethod
    def _filters(filters: Mapping[str, str]) -> str:
        text = json.dumps(dict(filters), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def issue(self, filters: Mapping[str, str], last: tuple[str, ...]) -> str:
        payload = json.dumps(
            {"f": self._filters(filters), "k": list(last)}, separators=(",", ":")
        ).encode()
        tag = hmac.new(self._key, payload, "sha256").digest()[:_TAG_BYTES]
        return f"{_b64(payload)}.{_b64(tag)}"

    def read(self, token: str, filters: Mapping[str, str], width: int) -> tuple[str, ...]:
        """The last key the token carries; InvalidArgument on ``page_token`` otherwise."""
        refused = InvalidArgument(
            [FieldViolation("page_token", "is not a token this listing issued for these filters")]
        )
        if len(token) > TOKEN_MAX or not _TOKEN.fullmatch(token):
            raise refused
        body, _, tag = token.partition(".")
        try:
            payload, given = _unb64(body), _unb64(tag)
        except (binascii.Error, ValueError):
            raise refused from None
        expected = hmac.new(self._key, payload, "sha256").digest()[:_TAG_BYTES]
        if not hmac.compare_digest(expected, given):
            raise refused
        doc = json.loads(payload)
        last = doc.get("k")
        if (
            doc.get("f") != self._filters(filters)
            or not isinstance(last, list)
            or len(last) != width
            or not all(isinstance(k, str) for k in last)
        ):
            raise refused
        return tuple(last)
