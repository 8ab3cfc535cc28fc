"""Federation fragments signed and verified: the peer signs its answer to a 协查 with its
report keys; the requester accepts it only against the key ids it pinned for that peer.

The requester keeps the envelope bytes whole (they are embedded in its report), so an
auditor can verify them later with the peer's JWKS: :func:`verify_fragment` is the one
check both do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from hedui_sdk import SourceKind
from verifier.domain.fragment import (
    FRAGMENT_PAYLOAD_TYPE,
    FragmentAnswer,
    FragmentError,
    FragmentRefusal,
    answer_from_body,
    fragment_body,
)
from verifier.signing.dsse import EnvelopeError, SigningKey, sign_envelope, verify_envelope
from verifier.signing.jcs import canonical_bytes
from verifier.signing.jwks import PublicKey

__all__ = ["VerifiedFragment", "sign_fragment", "verify_fragment"]


@dataclass(frozen=True, slots=True)
class VerifiedFragment:
    """A fragment the requester may use, with the provenance its report records."""

    envelope: bytes
    envelope_sha256: str
    key_id: str
    """The first pinned key whose signature verified."""
    answer: FragmentAnswer


def sign_fragment(answer: FragmentAnswer, key: SigningKey | Sequence[SigningKey]) -> bytes:
    """The DSSE envelope over the answer's canonical body, signed by every ``key``."""
    return sign_envelope(canonical_bytes(fragment_body(answer)), FRAGMENT_PAYLOAD_TYPE, key)


def _signer_ids(envelope: bytes) -> list[str]:
    try:
        env = json.loads(envelope)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FragmentError(FragmentRefusal.MALFORMED, "the fragment is not JSON") from None
    sigs = env.get("signatures") if isinstance(env, dict) else None
    if not isinstance(sigs, list):
        raise FragmentError(FragmentRefusal.MALFORMED, "the fragment has no signatures")
    return [s["keyid"] for s in sigs if isinstance(s, dict) and isinstance(s.get("keyid"), str)]


def verify_fragment(
    envelope: bytes,
    pinned: Mapping[str, PublicKey],
    *,
    peer: str,
    requester: str,
    request_id: str,
    asked: Collection[tuple[int, SourceKind]],
) -> VerifiedFragment:
    """Accept ``envelope`` only when a key pinned for ``peer`` signed it, every pinned
    signature verifies, and its body answers exactly ``asked`` for ``requester``'s
    request ``request_id``; otherwise :class:`FragmentError` with the reason."""
    if not any(kid in pinned for kid in _signer_ids(envelope)):
        raise FragmentError(FragmentRefusal.UNPINNED_KEY, "no signature by a key pinned for it")
    try:
        verified = verify_envelope(envelope, pinned, payload_type=FRAGMENT_PAYLOAD_TYPE)
    except EnvelopeError as exc:
        malformed = "payloadType" in str(exc) or "not valid base64" in str(exc)
        reason = FragmentRefusal.MALFORMED if malformed else FragmentRefusal.TAMPERED
        raise FragmentError(reason, str(exc)) from None
    answer = answer_from_body(
        verified.document, peer=peer, requester=requester, request_id=request_id, asked=asked
    )
    return VerifiedFragment(
        envelope=envelope,
        envelope_sha256=hashlib.sha256(envelope).hexdigest(),
        key_id=verified.key_id,
        answer=answer,
    )
