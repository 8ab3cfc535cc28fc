"""Report envelopes are sealed as their parts and read back byte for byte."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.signing.dsse import REPORT_PAYLOAD_TYPE, sign_envelope, verify_envelope
from verifier.signing.jcs import canonical_bytes
from verifier.signing.jwks import key_id
from verifier.storage.reports import PACKED, pack_envelope, unpack_envelope

KEY = Ed25519PrivateKey.generate()
DOCUMENT = {
    "report_id": "r-1",
    "note": "第一行\n第二行",  # a newline inside a string stays escaped in canonical JSON
    "records": [{"amount_fen": 360_000 + i, "category": "wages"} for i in range(200)],
}


def test_a_signed_envelope_is_stored_as_parts_and_rebuilt_exactly() -> None:
    envelope = sign_envelope(canonical_bytes(DOCUMENT), REPORT_PAYLOAD_TYPE, KEY)
    stored = pack_envelope(envelope)
    assert stored.startswith(PACKED)
    assert canonical_bytes(DOCUMENT) in stored  # the payload itself, not its base64
    assert unpack_envelope(stored) == envelope
    verified = verify_envelope(
        unpack_envelope(stored), {key_id(KEY.public_key()): KEY.public_key()}
    )
    assert verified.document == DOCUMENT


def test_an_envelope_written_another_way_is_kept_whole() -> None:
    envelope = sign_envelope(canonical_bytes(DOCUMENT), REPORT_PAYLOAD_TYPE, KEY)
    compact = json.dumps(json.loads(envelope), separators=(",", ":")).encode()
    assert pack_envelope(compact) == compact
    assert unpack_envelope(compact) == compact
    assert pack_envelope(b"not json") == b"not json"


def test_rows_written_before_packing_read_unchanged() -> None:
    envelope = sign_envelope(canonical_bytes(DOCUMENT), REPORT_PAYLOAD_TYPE, KEY)
    assert envelope.startswith(b"{")
    assert unpack_envelope(envelope) == envelope
