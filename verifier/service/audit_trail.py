"""Who an audit entry names and about whom: actors, keyed subject refs, and refusals.

Every use case writes entries; these are the parts they share. Subjects are named by
keyed HMAC refs, never by ID number.
"""

from __future__ import annotations

from typing import Any

from audit.entry import Actor, EntryDraft
from verifier.domain.caller import Caller
from verifier.domain.household import VerificationRequest
from verifier.domain.ports import Store, VerificationRecord
from verifier.domain.pseudonym import subject_ref
from verifier.service.authorize import Decision

# Entries written by hedui itself (late answers, resumed runs) rather than for a caller.
SYSTEM_ACTOR = Actor(system="hedui", user="", role="system", region="")


def actor_of(caller: Caller) -> Actor:
    return Actor(
        system=caller.system, user=caller.user, role=caller.role, region=caller.region_label()
    )


def requester_of(record: VerificationRecord) -> Actor:
    """The caller who started a verification, as its record keeps them."""
    return Actor(record.caller_system, record.caller_user, record.caller_role, record.caller_region)


def subject_refs(pseudonym_key: bytes, request: VerificationRequest) -> tuple[str, ...]:
    """The members' keyed refs, in member order."""
    return tuple(
        subject_ref(pseudonym_key, m.subject.id_type, m.subject.id_number)
        for m in request.household.members
    )


def denial(
    caller: Caller,
    decision: Decision,
    *,
    action: str,
    verification_id: str = "",
    case_id: str = "",
    refs: tuple[str, ...] = (),
    request_id: str = "",
    details: dict[str, Any] | None = None,
) -> EntryDraft:
    """The entry that records a refusal, with its reason."""
    return EntryDraft(
        actor=actor_of(caller),
        action=action,
        outcome="deny",
        case_id=case_id,
        verification_id=verification_id,
        subject_refs=refs,
        reason=decision.reason,
        request_id=request_id,
        details=details or {},
    )


async def record_denial(store: Store, entry: EntryDraft) -> None:
    """Commit a refusal's entry on its own, before the caller is told."""
    async with store.unit_of_work(write=True) as uow:
        await uow.audit.append([entry])
        await uow.commit()


def refusal(caller: Caller, action: str, reason: str, details: dict[str, Any]) -> EntryDraft:
    """The one ``deny`` entry of a refusal for role or region: the same entry whichever
    use case refuses."""
    return EntryDraft(
        actor=actor_of(caller), action=action, outcome="deny", reason=reason, details=details
    )


async def record_refusal(
    store: Store, caller: Caller, action: str, reason: str, details: dict[str, Any]
) -> None:
    """Commit the :func:`refusal` entry on its own, before the caller is told."""
    await record_denial(store, refusal(caller, action, reason, details))
