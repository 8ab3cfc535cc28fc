"""Opaque, tamper-checked page tokens (AIP-158) for keyset pagination.

A token names the last row of a page — its time and its id — and is bound by an HMAC to
the scope it was issued for: the RPC, the caller (system and user) and the exact filters.
A token altered, forged, or replayed with other filters or by another caller does not
verify, and is refused on ``page_token`` as "not a token we issued". The token carries
ids and times only, never a filter value, and says nothing a caller could not see.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
import uuid
from datetime import UTC, datetime, timedelta

from verifier.domain.errors import FieldViolation, InvalidArgument

__all__ = ["TOKEN_PATTERN", "PageTokens"]

_VERSION = 1
_MAC_BYTES = 16
_LAYOUT = struct.Struct(">Bq16s")  # version, microseconds since the epoch, uuid bytes
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_\-]{1,128}", re.ASCII)
"""The shape of any token this module issues (base64url, no padding)."""


def _refused() -> InvalidArgument:
    return InvalidArgument([FieldViolation("page_token", "is not a token we issued")])


class PageTokens:
    """Issues and reads page tokens under one key (derived from a secret the deployment
    already keeps, with a label of its own: see :meth:`derived`)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a page token key must be at least 32 bytes")
        self._key = key

    @classmethod
    def derived(cls, secret: bytes, label: str = "hedui page tokens v1") -> PageTokens:
        return cls(hmac.new(secret, label.encode(), hashlib.sha256).digest())

    def _mac(self, scope: bytes, body: bytes) -> bytes:
        return hmac.new(self._key, scope + b"\x00" + body, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, scope: bytes, at: datetime, row_id: str) -> str:
        """A token for the page after the row (``at``, ``row_id``); ``row_id`` is a UUID."""
        micros = (at - _EPOCH) // timedelta(microseconds=1)
        body = _LAYOUT.pack(_VERSION, micros, uuid.UUID(row_id).bytes)
        raw = body + self._mac(scope, body)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def read(self, token: str, scope: bytes) -> tuple[datetime, str]:
        """The (time, id) a token names; :class:`InvalidArgument` on ``page_token`` unless
        this module issued it for exactly this scope."""
        if not TOKEN_PATTERN.fullmatch(token):
            raise _refused()
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise _refused() from None
        if len(raw) != _LAYOUT.size + _MAC_BYTES:
            raise _refused()
        body, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
        if not hmac.compare_digest(mac, self._mac(scope, body)):
            raise _refused()
        version, micros, uid = _LAYOUT.unpack(body)
        if version != _VERSION:
            raise _refused()
        return _EPOCH + timedelta(microseconds=micros), str(uuid.UUID(bytes=uid))
