"""The bytes of a DSSE envelope as hedui writes them, and the parts they are made of.

The signer writes envelopes through :func:`envelope_bytes`; storage keeps an envelope as its
parts (the payload unencoded, which compresses far better than its base64) and rebuilds the
very same bytes through the same function. Nothing here checks a signature.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EnvelopeParts:
    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, str], ...]
    """(keyid, base64 signature) in the envelope's order."""


def envelope_bytes(parts: EnvelopeParts) -> bytes:
    """The envelope JSON: two-space indented, UTF-8, a final newline."""
    envelope = {
        "payloadType": parts.payload_type,
        "payload": base64.b64encode(parts.payload).decode(),
        "signatures": [{"keyid": kid, "sig": sig} for kid, sig in parts.signatures],
    }
    return json.dumps(envelope, indent=2, ensure_ascii=False).encode() + b"\n"


def envelope_parts(envelope: bytes) -> EnvelopeParts | None:
    """The parts of ``envelope`` when rebuilding them gives back exactly its bytes, else None
    (an envelope written some other way is then kept as it is)."""
    try:
        env = json.loads(envelope)
        payload = base64.b64decode(env["payload"], validate=True)
        parts = EnvelopeParts(
            env["payloadType"],
            payload,
            tuple((s["keyid"], s["sig"]) for s in env["signatures"]),
        )
    except (ValueError, TypeError, KeyError, binascii.Error):
        return None
    return parts if envelope_bytes(parts) == envelope else None
