"""What a printout is rendered with besides the report document: who signed it, the
envelope's hash, and (only on the audited path) the members' full identities."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Identity:
    """A member's full name and ID number, shown instead of the masked ones."""

    name: str
    id_number: str

    def __repr__(self) -> str:
        # Never in a log line or a traceback: the values are what masking exists for.
        return "Identity(<redacted>)"


@dataclass(frozen=True, slots=True)
class PrintView:
    """``key_id``: the signature's key id (hex SHA-256 of the public key);
    ``envelope_sha256``: hex SHA-256 of the DSSE envelope bytes as released;
    ``identities``: member index → full identity, or empty for the masked printout."""

    key_id: str
    envelope_sha256: str
    identities: Mapping[int, Identity] = field(default_factory=dict)

    @classmethod
    def of(
        cls, envelope: bytes, key_id: str, identities: Mapping[int, Identity] | None = None
    ) -> PrintView:
        """The view of a signed envelope exactly as released (its bytes are hashed)."""
        return cls(key_id, hashlib.sha256(envelope).hexdigest(), dict(identities or {}))

    @property
    def full_identities(self) -> bool:
        return bool(self.identities)
