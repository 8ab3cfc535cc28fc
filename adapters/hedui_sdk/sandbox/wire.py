"""Department gateway protocol v1: the JSON a sandbox department writes.

Kept apart from the reference adapters' decoder on purpose: the sandbox plays the
department, which implements the protocol from the document, not from hedui's code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hedui_sdk.records import CancellationReason
from hedui_sdk.sandbox.evidence_facts import (
    DiagnosisFact,
    DisabilityFact,
    EmploymentFact,
    EnrolmentFact,
    EvidenceFact,
    MedicalExpenseFact,
)
from hedui_sdk.sandbox.facts import (
    AssetFact,
    ContributionFact,
    Fact,
    IncomeFact,
    RegistrationFact,
)

JsonObject = dict[str, Any]


def rfc3339(instant: datetime) -> str:
    """An aware datetime as RFC 3339 UTC with a ``Z`` suffix and whole seconds."""
    return instant.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def encode_fact(fact: Fact) -> JsonObject:
    """One record object of a FOUND answer."""
    if isinstance(fact, IncomeFact):
        return {
            "type": "income",
            "record_id": fact.record_id,
            "category": fact.category.value,
            "kind": fact.kind,
            "period_start": fact.period_start.isoformat(),
            "period_end": fact.period_end.isoformat(),
            "amount_fen": fact.amount_fen,
            "payer": fact.payer,
        }
    if isinstance(fact, AssetFact):
        return {
            "type": "asset",
            "record_id": fact.record_id,
            "category": fact.category.value,
            "kind": fact.kind,
            "value_fen": fact.value_fen,
            "count": fact.count,
            "area_m2": None if fact.area_m2 is None else str(fact.area_m2),
            "details": dict(fact.details),
        }
    if isinstance(fact, ContributionFact):
        return {
            "type": "contribution",
            "record_id": fact.record_id,
            "scheme": fact.scheme,
            "period_start": fact.period_start.isoformat(),
            "period_end": fact.period_end.isoformat(),
            "base_fen": fact.base_fen,
            "paid_fen": fact.paid_fen,
            "employer": fact.employer,
        }
    if isinstance(fact, RegistrationFact):
        return _encode_registration(fact)
    return _encode_evidence(fact)


def _day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _encode_evidence(fact: EvidenceFact) -> JsonObject:
    if isinstance(fact, MedicalExpenseFact):
        return {
            "type": "medical_expense", "record_id": fact.record_id, "kind": fact.kind,
            "period_start": fact.period_start.isoformat(),
            "period_end": fact.period_end.isoformat(), "total_fen": fact.total_fen,
            "fund_paid_fen": fact.fund_paid_fen, "self_paid_fen": fact.self_paid_fen,
            "provider": fact.provider,
        }  # fmt: skip
    if isinstance(fact, DiagnosisFact):
        return {
            "type": "diagnosis", "record_id": fact.record_id, "kind": fact.kind.value,
            "condition": fact.condition, "certified_on": fact.certified_on.isoformat(),
            "valid_until": _day(fact.valid_until),
        }  # fmt: skip
    if isinstance(fact, DisabilityFact):
        return {
            "type": "disability_certificate", "record_id": fact.record_id,
            "disability_type": fact.disability_type.value, "grade": fact.grade,
            "issued_on": fact.issued_on.isoformat(), "valid_until": _day(fact.valid_until),
        }  # fmt: skip
    if isinstance(fact, EnrolmentFact):
        return {
            "type": "enrolment", "record_id": fact.record_id, "level": fact.level.value,
            "institution": fact.institution, "period_start": fact.period_start.isoformat(),
            "period_end": _day(fact.period_end), "fees_paid_fen": fact.fees_paid_fen,
        }  # fmt: skip
    if isinstance(fact, EmploymentFact):
        return {
            "type": "employment", "record_id": fact.record_id, "status": fact.status.value,
            "employer": fact.employer, "period_start": fact.period_start.isoformat(),
            "period_end": _day(fact.period_end),
        }  # fmt: skip
    return {
        "type": "civil_status", "record_id": fact.record_id, "event": fact.event.value,
        "occurred_on": fact.occurred_on.isoformat(),
    }  # fmt: skip


def _encode_registration(fact: RegistrationFact) -> JsonObject:
    encoded: JsonObject = {
        "type": "household_registration",
        "record_id": fact.record_id,
        "household_number": fact.household_number,
        "region_code": fact.region_code,
        "members": [
            {
                "id_type": m.id_type,
                "id_number": m.id_number,
                "name": m.name,
                "relation": m.relation,
            }
            for m in fact.members
        ],
    }
    if fact.cancelled_on is not None:
        # Optional fields a 户籍 department adds for a cancelled (注销) registration; a
        # registration in force carries none of them, so its bytes are as they always were.
        encoded["status"] = "cancelled"
        encoded["cancelled_on"] = fact.cancelled_on.isoformat()
        encoded["cancel_reason"] = (fact.cancel_reason or CancellationReason.OTHER).value
    return encoded


def found(facts: tuple[Fact, ...], as_of: datetime) -> JsonObject:
    """A 200 FOUND body."""
    return {"status": "FOUND", "as_of": rfc3339(as_of), "records": [encode_fact(f) for f in facts]}


def not_found(as_of: datetime) -> JsonObject:
    """A 200 NOT_FOUND body."""
    return {"status": "NOT_FOUND", "as_of": rfc3339(as_of), "records": []}


def pending(ticket: str, retry_after: float) -> JsonObject:
    """A 202 PENDING body."""
    return {"status": "PENDING", "ticket": ticket, "retry_after": retry_after}


def error(code: str, message: str) -> JsonObject:
    """An error body; ``message`` must never contain personal data."""
    return {"error": {"code": code, "message": message}}
