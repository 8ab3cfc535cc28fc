"""Subject references: what logs and audit rows carry instead of ID numbers.

``subject_ref = HMAC-SHA256(pseudonym_key, id_type ":" id_number)``. Keyed, because the
ID number space is small enough that a plain hash can be reversed by enumeration.
"""

from __future__ import annotations

import hashlib
import hmac

from hedui_sdk import IdType


def subject_ref(key: bytes, id_type: IdType, id_number: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``id_type:id_number`` under the pseudonym key."""
    if len(key) < 32:
        raise ValueError("pseudonym key must be at least 32 bytes")
    msg = f"{id_type.value}:{id_number.upper()}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()
