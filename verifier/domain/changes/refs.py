"""The keyed references a comparison needs, computed from a verified request.

A report shows members masked (``3703**********123X``), which cannot tell two people
apart with certainty; the comparison matches members by ``subject_ref`` instead, the
same HMAC the audit log and the 授权书 registry use.
"""

from __future__ import annotations

from verifier.domain.household import Relation, VerificationRequest
from verifier.domain.pseudonym import subject_ref


def member_refs(request: VerificationRequest, pseudonym_key: bytes) -> tuple[str, ...]:
    """Each member's subject_ref, in the order the request (and so its report) lists them."""
    return tuple(
        subject_ref(pseudonym_key, m.subject.id_type, m.subject.id_number)
        for m in request.household.members
    )


def household_ref(request: VerificationRequest, pseudonym_key: bytes) -> str:
    """The applicant's subject_ref: how the 授权书 registry names a household."""
    for m in request.household.members:
        if m.relation is Relation.APPLICANT:
            return subject_ref(pseudonym_key, m.subject.id_type, m.subject.id_number)
    # validate_request admits no request without one; a hand-built request may lack it.
    raise ValueError("the request names no applicant")


__all__ = ["household_ref", "member_refs"]
