"""What change detection adds to the release transaction: the check and the comparison
its new report version needs, noted beside the ``released`` entry, so that a comparison
exists exactly when the report does (the comparison itself runs after the commit, see
:class:`verifier.service.monitoring.changes.ChangeRecorder`)."""

from __future__ import annotations

from datetime import datetime

import structlog

from verifier.domain.changes import household_ref, member_refs
from verifier.domain.household import VerificationRequest
from verifier.domain.ports import HouseholdCheck, UnitOfWork, VerificationRecord

log = structlog.get_logger("hedui.changes")


async def on_version_released(
    uow: UnitOfWork,
    *,
    record: VerificationRecord,
    request: VerificationRequest,
    version: int,
    at: datetime,
    pseudonym_key: bytes,
) -> None:
    """Note ``version`` of ``record``'s check for comparison with the household's
    previous check. A request without an applicant (validation admits none) is released
    without a comparison rather than held back (logged, without data)."""
    try:
        check = HouseholdCheck(
            verification_id=record.id,
            region=record.region,
            household_ref=household_ref(request, pseudonym_key),
            member_refs=member_refs(request, pseudonym_key),
            created_at=record.created_at,
        )
    except ValueError:
        log.error("comparison_not_noted", verification_id=record.id, problem="no applicant")
        return
    await uow.changes.note_release(check, version, at)


__all__ = ["on_version_released"]
