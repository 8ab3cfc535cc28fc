"""The webhook events use cases add to their own unit of work: each is written to the
outbox in the transaction that commits what it tells of, so there is never a report
without its event, nor an event about a report that was rolled back."""

from __future__ import annotations

from datetime import datetime

from verifier.domain.ports import UnitOfWork
from verifier.domain.webhooks import report_issued


async def on_report_released(
    uow: UnitOfWork,
    *,
    verification_id: str,
    case_id: str,
    version: int,
    envelope_sha256: str,
    at: datetime,
) -> None:
    """A report version was released (call beside the ``released`` audit entry)."""
    await uow.outbox.add(
        report_issued(
            verification_id=verification_id,
            case_id=case_id,
            version=version,
            envelope_sha256=envelope_sha256,
            at=at,
        )
    )
