"""Standard Webhooks signatures (https://www.standardwebhooks.com/): the headers every
delivery carries, made with the ``standardwebhooks`` reference implementation.

``webhook-signature`` is ``v1,<base64 HMAC-SHA256>`` of ``"{id}.{timestamp}.{body}"``
keyed with the subscriber's secret (``whsec_`` + base64 of 24-64 random bytes). During
a rotation a subscriber has two secrets and every delivery is signed with both,
space-separated (the specification allows several signatures), so a receiver holding
either verifies it; once it holds the new one, the old one is dropped from the config.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

from hedui_sdk import Secret

__all__ = ["SECRET_PREFIX", "secret_problem", "signature_headers"]

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
_SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{32,88}={0,2}", re.ASCII)
_MIN_KEY, _MAX_KEY = 24, 64


def secret_problem(secret: Secret) -> str | None:
    """What is wrong with a subscriber secret, or None. Never repeats the value.

    The library itself base64-decodes without validation (stray characters are
    dropped), so a mistyped secret would sign with another key; this refuses it."""
    value = secret.reveal()
    if not _SECRET.fullmatch(value):
        return "must be whsec_ followed by base64 (24 to 64 bytes)"
    try:
        key = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return "must be whsec_ followed by valid base64"
    if not _MIN_KEY <= len(key) <= _MAX_KEY:
        return f"must hold {_MIN_KEY} to {_MAX_KEY} bytes of key (it holds {len(key)})"
    return None


def signature_headers(
    event_id: str, timestamp: datetime, body: bytes, secrets: Sequence[Secret]
) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt: ``webhook-id`` (stable per event),
    ``webhook-timestamp`` (this attempt, whole seconds since the epoch), and one ``v1``
    signature per secret."""
    if not secrets:
        raise ValueError("a webhook needs at least one secret to be signed")
    at = timestamp.astimezone(UTC)
    text = body.decode("utf-8")
    signatures = " ".join(Webhook(s.reveal()).sign(event_id, at, text) for s in secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
