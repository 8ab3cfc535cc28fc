"""A signed report as the console shows it: the verified document, and what changed
between two versions (pure: no I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier.domain.ports import StoredReport
from verifier.signing.dsse import EnvelopeError, unverified_document, verify_envelope

# Fields every version has its own value of: not "changes".
_PER_VERSION = frozenset({"report_id", "version", "previous_sha256", "created_at"})


@dataclass(frozen=True, slots=True)
class ShownReport:
    document: dict[str, Any]
    key_id: str
    """The key whose signature verified; empty when none did (then ``problem`` says why)."""
    problem: str
    envelope_sha256: str


def open_report(stored: StoredReport, keys: Mapping[str, Ed25519PublicKey]) -> ShownReport:
    """The report's document, and whether its signature verifies against ``keys``."""
    try:
        verified = verify_envelope(stored.envelope, keys)
    except EnvelopeError as exc:
        document = unverified_document(stored.envelope)
        return ShownReport(document, "", str(exc), stored.envelope_sha256)
    return ShownReport(verified.document, verified.key_id, "", stored.envelope_sha256)


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    before: str
    after: str


def _flat(value: Any, path: str, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if path or k not in _PER_VERSION:
                _flat(v, f"{path}.{k}" if path else k, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flat(v, f"{path}[{i}]", out)
    else:
        out[path] = json.dumps(value, ensure_ascii=False)


def changes(older: Mapping[str, Any], newer: Mapping[str, Any]) -> list[Change]:
    """Every leaf value that differs between two report documents, by JSON path."""
    a: dict[str, str] = {}
    b: dict[str, str] = {}
    _flat(dict(older), "", a)
    _flat(dict(newer), "", b)
    return [
        Change(path, a.get(path, "—"), b.get(path, "—"))
        for path in sorted(a.keys() | b.keys())
        if a.get(path) != b.get(path)
    ]
