"""Audit entries: the JSON body, its RFC 6962 leaf hash and the running chain hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from audit.canonical import canonical_bytes

ZERO_CHAIN = bytes(32)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: the calling system, its end user, their role and region."""

    system: str
    user: str = ""
    role: str = ""
    region: str = ""


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """An entry before the log gives it a ``seq`` and ``ts``.

    ``subject_refs`` are keyed HMACs, never ID numbers; ``details`` holds strings,
    integers, booleans, lists and objects of those (no floats, no personal data).
    """

    actor: Actor
    action: str
    outcome: str
    case_id: str = ""
    verification_id: str = ""
    subject_refs: tuple[str, ...] = ()
    source: str = ""
    reason: str = ""
    request_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AppendedEntry:
    """An entry as the log appended it: its ``seq``, leaf hash and chain hash."""

    seq: int
    leaf_hash: bytes
    chain_hash: bytes


def format_ts(ts: datetime) -> str:
    """RFC 3339 UTC with microseconds: ``2026-11-26T12:00:00.000000Z``."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def body_of(draft: EntryDraft, seq: int, ts: datetime) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": format_ts(ts),
        "actor": {
            "system": draft.actor.system,
            "user": draft.actor.user,
            "role": draft.actor.role,
            "region": draft.actor.region,
        },
        "action": draft.action,
        "case_id": draft.case_id,
        "verification_id": draft.verification_id,
        "subject_refs": list(draft.subject_refs),
        "source": draft.source,
        "outcome": draft.outcome,
        "reason": draft.reason,
        "request_id": draft.request_id,
        "details": draft.details,
    }


def canonical(body: dict[str, Any]) -> bytes:
    return canonical_bytes(body)


def leaf_hash(body_bytes: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || JCS(body))."""
    return hashlib.sha256(b"\x00" + body_bytes).digest()


def next_chain(prev_chain: bytes, leaf: bytes) -> bytes:
    """chain = SHA-256(prev_chain || leaf_hash); the chain before seq 0 is 32 zero bytes."""
    return hashlib.sha256(prev_chain + leaf).digest()
