"""The federation fragment (协查答复): what a peer deployment found about the members it
was asked to check, as the JSON body it signs.

The body is RFC 8785 canonical JSON inside a DSSE envelope of payload type
:data:`FRAGMENT_PAYLOAD_TYPE` (see :mod:`verifier.signing.fragments`). It names both
sides (``peer`` answered ``requester``), the requester's request id (so a fragment
answered for one 协查 cannot be replayed into another), the 授权书 number it was
answered under, and one entry per member × source with the status and the records.
Members are named by their index in the request and a masked ID number; registration
records carry masked ID numbers and names only: nothing in a fragment is more than a
report may show.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from hedui_sdk import HouseholdRegistrationRecord, Record, RegisteredMember, SourceKind
from hedui_sdk.masking import mask_id_number, mask_name
from verifier.domain.outcomes import FINAL_STATUSES, SourceOutcome, SourceStatus
from verifier.domain.records_codec import records_from_json, records_to_json
from verifier.domain.timestamps import rfc3339

FRAGMENT_SCHEMA = "hedui.fragment/v1"
FRAGMENT_PAYLOAD_TYPE = "application/vnd.hedui.fragment+json; version=1"
MAX_FRAGMENT_MEMBERS = 20
"""A 协查 names at most this many members (a household's size bound)."""

PEER_REASON = re.compile(r"[A-Z0-9_]{1,64}", re.ASCII)
"""The only reasons taken from a peer (its refusals' ErrorInfo, its fragments' outcomes):
codes. Anything else could carry personal data, markup or control characters into the
requester's immutable audit log and reports, so it is replaced, never shown."""
REASON_UNREADABLE = "PEER_REASON_UNREADABLE"
"""What a fragment outcome's reason becomes when it is not a code."""
ADAPTER_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+\-]{0,63}", re.ASCII)
"""An adapter's name or version in a fragment, as hedui's own adapters name themselves
(``tax-gateway``, ``1.2.0``); empty for an answer no adapter gave (DENIED, FAILED)."""


def peer_reason(text: str, fallback: str) -> str:
    """``text`` when it is a code (:data:`PEER_REASON`, full match), else ``fallback``."""
    return text if PEER_REASON.fullmatch(text) else fallback


def _outcome_reason(value: object) -> str:
    """A fragment outcome's reason as the requester shows it: "" or a code; anything else
    is :data:`REASON_UNREADABLE` (the kept envelope still holds what the peer wrote)."""
    if value == "":
        return ""
    return peer_reason(value, REASON_UNREADABLE) if isinstance(value, str) else REASON_UNREADABLE


def _adapter_text(value: object) -> str:
    if not isinstance(value, str) or (value and ADAPTER_TEXT.fullmatch(value) is None):
        raise ValueError("adapter name or version is not an identifier")
    return value


class FragmentRefusal(StrEnum):
    """Why a requester refuses a peer's fragment (the reason recorded with FAILED)."""

    MALFORMED = "FRAGMENT_MALFORMED"
    """Not a DSSE envelope of the fragment type, or a body not of this schema."""
    UNPINNED_KEY = "FRAGMENT_UNPINNED_KEY"
    """No signature by a key pinned for the peer."""
    TAMPERED = "FRAGMENT_TAMPERED"
    """A signature by a pinned key does not verify: the bytes changed after signing."""
    WRONG_PEER = "FRAGMENT_WRONG_PEER"
    """Signed by a pinned key but naming another deployment as its author or reader."""
    REPLAYED = "FRAGMENT_REPLAYED"
    """Answers another request (its requester request id is not this one's)."""
    UNASKED = "FRAGMENT_UNASKED"
    """Answers a member × source that was not asked, or leaves one asked unanswered."""


class FragmentError(ValueError):
    """A fragment the requester must not use; ``reason`` says why."""

    def __init__(self, reason: FragmentRefusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FragmentAnswer:
    """A peer's answer to one 协查, as signed."""

    peer: str
    """The answering deployment (its certificate name)."""
    requester: str
    """The deployment that asked."""
    requester_request_id: str
    peer_verification_id: str
    """The peer's own id of the check (its audit entries name it)."""
    authorization_number: str
    created_at: datetime
    members: tuple[str, ...]
    """Masked ID numbers, in the request's member order."""
    outcomes: tuple[SourceOutcome, ...]
    """Final statuses only: a fragment is signed once every asked source answered,
    failed, was denied or ran out of time."""


@dataclass(frozen=True, slots=True)
class EmbeddedFragment:
    """A peer's accepted fragment as the requester keeps it and embeds it whole in its
    reports, with its provenance."""

    peer: str
    key_id: str
    """The pinned key whose signature was accepted."""
    envelope_sha256: str
    """Lowercase hex SHA-256 of ``envelope``."""
    release_seq: int
    """The seq of the peer's ``released`` audit entry for this answer."""
    envelope: bytes
    """The DSSE envelope (JSON bytes) exactly as the peer signed and sent it."""


def _masked(record: Record) -> Record:
    if not isinstance(record, HouseholdRegistrationRecord):
        return record
    members = tuple(
        RegisteredMember(m.id_type, mask_id_number(m.id_number), mask_name(m.name), m.relation)
        for m in record.members
    )
    return replace(record, members=members)


def fragment_body(answer: FragmentAnswer) -> dict[str, Any]:
    """The JSON body the peer signs."""
    return {
        "schema": FRAGMENT_SCHEMA,
        "peer": answer.peer,
        "requester": answer.requester,
        "requester_request_id": answer.requester_request_id,
        "peer_verification_id": answer.peer_verification_id,
        "authorization_number": answer.authorization_number,
        "created_at": rfc3339(answer.created_at),
        "members": list(answer.members),
        "sources": [
            {
                "member": o.member_index,
                "source": o.source.value,
                "status": o.status.value,
                "adapter": o.adapter,
                "adapter_version": o.adapter_version,
                "as_of": rfc3339(o.as_of) if o.as_of else None,
                "reason": o.reason,
                "records": records_to_json(tuple(_masked(r) for r in o.records)),
            }
            for o in sorted(answer.outcomes, key=lambda o: (o.member_index, o.source.value))
        ],
    }


def _text(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise FragmentError(FragmentRefusal.MALFORMED, f"fragment field {key} must be text")
    return value


def _outcome(item: Any, members: int) -> SourceOutcome:
    if not isinstance(item, dict):
        raise FragmentError(FragmentRefusal.MALFORMED, "a fragment source entry must be an object")
    try:
        member = item["member"]
        if not isinstance(member, int) or isinstance(member, bool) or not 0 <= member < members:
            raise ValueError("member index out of range")
        status = SourceStatus(item["status"])
        if status not in FINAL_STATUSES:
            raise ValueError("status is not final")
        as_of = item.get("as_of")
        records = records_from_json(item["records"])
        for record in records:
            _adapter_text(record.provenance.adapter)
            _adapter_text(record.provenance.adapter_version)
        return SourceOutcome(
            member_index=member,
            source=SourceKind(item["source"]),
            status=status,
            adapter=_adapter_text(item["adapter"]),
            adapter_version=_adapter_text(item["adapter_version"]),
            as_of=datetime.fromisoformat(as_of) if isinstance(as_of, str) else None,
            records=records,
            reason=_outcome_reason(item.get("reason", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FragmentError(
            FragmentRefusal.MALFORMED, f"a fragment source entry is malformed: {type(exc).__name__}"
        ) from None


def answer_from_body(
    doc: Mapping[str, Any],
    *,
    peer: str,
    requester: str,
    request_id: str,
    asked: Collection[tuple[int, SourceKind]],
) -> FragmentAnswer:
    """The answer a verified body holds, refused unless it is the answer ``peer`` gave
    ``requester`` to request ``request_id``, covering exactly the ``asked`` member ×
    source pairs."""
    if doc.get("schema") != FRAGMENT_SCHEMA:
        raise FragmentError(FragmentRefusal.MALFORMED, f"schema must be {FRAGMENT_SCHEMA}")
    if _text(doc, "peer") != peer or _text(doc, "requester") != requester:
        raise FragmentError(FragmentRefusal.WRONG_PEER, "the fragment names other deployments")
    if _text(doc, "requester_request_id") != request_id:
        raise FragmentError(FragmentRefusal.REPLAYED, "the fragment answers another request")
    members = doc.get("members")
    if not isinstance(members, list) or not 1 <= len(members) <= MAX_FRAGMENT_MEMBERS:
        raise FragmentError(FragmentRefusal.MALFORMED, "fragment members must be 1 to 20")
    items = doc.get("sources")
    if not isinstance(items, list):
        raise FragmentError(FragmentRefusal.MALFORMED, "fragment sources must be a list")
    outcomes = tuple(_outcome(item, len(members)) for item in items)
    answered = [(o.member_index, o.source) for o in outcomes]
    if len(set(answered)) != len(answered) or set(answered) != set(asked):
        raise FragmentError(
            FragmentRefusal.UNASKED, "the fragment does not answer exactly what was asked"
        )
    try:
        created_at = datetime.fromisoformat(_text(doc, "created_at"))
    except ValueError:
        raise FragmentError(FragmentRefusal.MALFORMED, "created_at is not a time") from None
    return FragmentAnswer(
        peer=peer,
        requester=requester,
        requester_request_id=request_id,
        peer_verification_id=_text(doc, "peer_verification_id"),
        authorization_number=_text(doc, "authorization_number"),
        created_at=created_at,
        members=tuple(str(m) for m in members),
        outcomes=outcomes,
    )
