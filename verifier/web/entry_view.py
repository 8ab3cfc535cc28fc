"""An audit entry as a table row: its body's fields, read from the canonical JSON bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class EntryRow:
    seq: int
    ts: str
    actor: str
    role: str
    action: str
    outcome: str
    case_id: str
    verification_id: str
    source: str
    reason: str
    subject_refs: int
    body: str
    """The canonical JSON exactly as stored (keyed refs, never raw IDs)."""


def describe(seq: int, body: bytes) -> EntryRow:
    doc: dict[str, Any] = json.loads(body)
    actor = doc.get("actor") or {}
    who = "/".join(str(actor.get(k, "")) for k in ("system", "user") if actor.get(k))
    return EntryRow(
        seq=seq,
        ts=str(doc.get("ts", "")),
        actor=who,
        role=str(actor.get("role", "")),
        action=str(doc.get("action", "")),
        outcome=str(doc.get("outcome", "")),
        case_id=str(doc.get("case_id", "")),
        verification_id=str(doc.get("verification_id", "")),
        source=str(doc.get("source", "")),
        reason=str(doc.get("reason", "")),
        subject_refs=len(doc.get("subject_refs") or []),
        body=body.decode("utf-8"),
    )
