"""The webhook events use cases add to their own unit of work: each is written to the
outbox in the transaction that commits what it tells of, so there is never a report
without its event, nor an event about a report that was rolled back."""

from __future__ import annotations

from datetime import datetime

import structlog

from verifier.domain.ports import UnitOfWork
from verifier.domain.webhooks import report_issued

log = structlog.get_logger("hedui.webhooks")


async def on_report_released(
    uow: UnitOfWork,
    *,
    verification_id: str,
    case_id: str,
    version: int,
    envelope_sha256: str,
    at: datetime,
) -> None:
    """A report version was released: its ``report.issued`` event, beside the
    ``released`` audit entry in the same transaction.

    The values were checked when the request was accepted, in the formats the event
    checks again; should one still not fit, the report is released without its event
    (logged, by field name only) rather than held back by a notification."""
    try:
        event = report_issued(
            verification_id=verification_id,
            case_id=case_id,
            version=version,
            envelope_sha256=envelope_sha256,
            at=at,
        )
    except ValueError as exc:
        log.error("webhook_event_not_written", verification_id=verification_id, problem=str(exc))
        return
    await uow.outbox.add(event)
