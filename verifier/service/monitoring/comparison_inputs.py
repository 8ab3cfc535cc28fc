"""What one comparison reads, and the signed change document it makes from that.

Reading is database work; making the document is CPU work (both report envelopes
verified with every key, the comparison, a signature per algorithm). The recorder makes
the document before its write transaction, from a read, and in the transaction only
checks that what it read still holds (:func:`still_holds`) before writing — so the
write transaction, which every other write of the process queues behind, holds no CPU
work of its own. Whatever changed meanwhile sends the comparison back to the careful
path, made whole inside the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from verifier.domain.changes import change_document
from verifier.domain.ports import (
    HouseholdCheck,
    PendingComparison,
    StoredReport,
    UnitOfWork,
    VerificationRecord,
)
from verifier.signing.changes import ChangeSigner, SignedChanges, report_version
from verifier.signing.jwks import PublicKey


@dataclass(frozen=True, slots=True)
class ComparisonInputs:
    """The check compared, its record, the household's previous check, and the two
    report versions (the previous check's latest, this check's ``version``)."""

    check: HouseholdCheck
    record: VerificationRecord
    previous: HouseholdCheck
    before: StoredReport
    after: StoredReport


@dataclass(frozen=True, slots=True)
class MadeComparison:
    """A comparison made ahead of its write transaction."""

    job: PendingComparison
    inputs: ComparisonInputs
    document: dict[str, Any]
    signed: SignedChanges


def roster_ref(pseudonym_key: bytes, region: str, household_ref: str) -> str:
    """The keyed reference of a roster entry (the region and the case system's household
    reference): an HMAC like a subject_ref, so the change document can name the
    household by it."""
    msg = f"roster:{region}:{household_ref}".encode()
    return hmac.new(pseudonym_key, msg, hashlib.sha256).hexdigest()


async def linked(
    uow: UnitOfWork, check: HouseholdCheck, request_id: str, pseudonym_key: bytes
) -> HouseholdCheck:
    """``check`` with the roster entry that started it, when the roster's scheduler did
    (read only; the recorder stores the link in its transaction)."""
    if check.roster_ref:
        return check
    job = await uow.rechecks.for_request(request_id)
    if job is None or job.region != check.region:
        return check
    if job.verification_id not in ("", check.verification_id):
        return check
    return replace(check, roster_ref=roster_ref(pseudonym_key, job.region, job.household_ref))


def shared_household(inputs: ComparisonInputs) -> str:
    """The ref a change document names the household by: the applicant's when both
    checks have the same applicant, else the roster entry that links them."""
    if inputs.previous.household_ref == inputs.check.household_ref:
        return inputs.check.household_ref
    return inputs.check.roster_ref


def make_document(
    inputs: ComparisonInputs, keys: Mapping[str, PublicKey], signer: ChangeSigner
) -> tuple[dict[str, Any], SignedChanges]:
    """The change document between the two versions, and its signed envelope.

    Raises :class:`~verifier.signing.dsse.EnvelopeError` or
    :class:`~verifier.domain.errors.InvalidArgument` when a version does not verify.
    """
    shared = shared_household(inputs)
    document = change_document(
        report_version(
            inputs.before.envelope,
            keys,
            household_ref=shared,
            member_refs=inputs.previous.member_refs,
        ),
        report_version(
            inputs.after.envelope,
            keys,
            household_ref=shared,
            member_refs=inputs.check.member_refs,
        ),
    )
    return document, signer.sign(document)


async def still_holds(uow: UnitOfWork, made: MadeComparison) -> HouseholdCheck | None:
    """In the write transaction: the check as stored when everything the comparison was
    made from is still so — this version is still the check's latest, the household's
    previous check and its latest version are the ones compared — else None. Report
    versions never change once released, so their ids say it all; a roster link found
    by the read stands (a re-check's roster job exists before its check does)."""
    vid, version = made.job.verification_id, made.job.version
    stored = await uow.changes.check(vid)
    if stored is None:
        return None
    check = made.inputs.check if not stored.roster_ref else stored
    previous = await uow.changes.previous_check(check)
    if previous is None or previous.verification_id != made.inputs.previous.verification_id:
        return None
    # Both checks' latest versions in one read.
    latest = await uow.verifications.latest_versions((vid, previous.verification_id))
    if latest.get(vid) != version:
        return None
    if latest.get(previous.verification_id) != made.inputs.before.version:
        return None
    return stored


__all__ = [
    "ComparisonInputs",
    "MadeComparison",
    "linked",
    "make_document",
    "roster_ref",
    "shared_household",
    "still_holds",
]
