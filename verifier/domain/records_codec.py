"""Full-fidelity JSON for SDK records, for sealed storage between report versions.

Unlike the report's record JSON (masked, display-oriented), this keeps everything an
adapter returned, so a later report version is built from exactly the same records.
Only ever stored sealed: household registration records hold raw ID numbers.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    CancellationReason,
    ContributionRecord,
    HouseholdRegistrationRecord,
    IncomeCategory,
    IncomeRecord,
    Provenance,
    Record,
    RegisteredMember,
    RegistrationStatus,
)
from verifier.domain.evidence_codec import EVIDENCE_TYPES, evidence_from_json, evidence_json


def _prov(p: Provenance) -> dict[str, str]:
    return {
        "source": p.source,
        "adapter": p.adapter,
        "adapter_version": p.adapter_version,
        "record_id": p.record_id,
        "as_of": p.as_of.isoformat(),
    }


def _prov_from(d: dict[str, str]) -> Provenance:
    return Provenance(
        d["source"],
        d["adapter"],
        d["adapter_version"],
        d["record_id"],
        datetime.fromisoformat(d["as_of"]),
    )


def registration_status_json(r: HouseholdRegistrationRecord) -> dict[str, Any]:
    """A cancelled registration's status, reason and day, as reports and sealed records
    show them; nothing for one in force, whose record keeps the shape it always had."""
    if r.status is RegistrationStatus.ACTIVE:
        return {}
    return {
        "status": r.status.value,
        "cancel_reason": None if r.cancel_reason is None else r.cancel_reason.value,
        "cancelled_on": None if r.cancelled_on is None else r.cancelled_on.isoformat(),
    }


def record_to_json(r: Record) -> dict[str, Any]:
    if isinstance(r, IncomeRecord):
        return {
            "t": "income", "category": r.category.value, "kind": r.kind,
            "period_start": r.period_start.isoformat(), "period_end": r.period_end.isoformat(),
            "amount_fen": r.amount_fen, "payer": r.payer, "provenance": _prov(r.provenance),
        }  # fmt: skip
    if isinstance(r, AssetRecord):
        return {
            "t": "asset", "category": r.category.value, "kind": r.kind, "value_fen": r.value_fen,
            "count": r.count, "area_m2": None if r.area_m2 is None else str(r.area_m2),
            "details": dict(r.details), "provenance": _prov(r.provenance),
        }  # fmt: skip
    if isinstance(r, ContributionRecord):
        return {
            "t": "contribution", "scheme": r.scheme, "period_start": r.period_start.isoformat(),
            "period_end": r.period_end.isoformat(), "base_fen": r.base_fen, "paid_fen": r.paid_fen,
            "employer": r.employer, "provenance": _prov(r.provenance),
        }  # fmt: skip
    if not isinstance(r, HouseholdRegistrationRecord):
        fields = evidence_json(r)
        return {"t": fields.pop("type")} | fields | {"provenance": _prov(r.provenance)}
    out: dict[str, Any] = {
        "t": "household_registration", "region_code": r.region_code,
        "household_number": r.household_number,
        "members": [[m.id_type, m.id_number, m.name, m.relation] for m in r.members],
        "provenance": _prov(r.provenance),
    }  # fmt: skip
    # Only a cancelled registration carries a status: rows sealed before it existed read
    # back as active, as they were.
    return out | registration_status_json(r)


def record_from_json(d: dict[str, Any]) -> Record:
    prov = _prov_from(d["provenance"])
    t = d["t"]
    if t == "income":
        return IncomeRecord(
            IncomeCategory(d["category"]), d["kind"], date.fromisoformat(d["period_start"]),
            date.fromisoformat(d["period_end"]), d["amount_fen"], prov, d["payer"],
        )  # fmt: skip
    if t == "asset":
        return AssetRecord(
            AssetCategory(d["category"]), d["kind"], d["value_fen"], prov, d["count"],
            None if d["area_m2"] is None else Decimal(d["area_m2"]), dict(d["details"]),
        )  # fmt: skip
    if t == "contribution":
        return ContributionRecord(
            d["scheme"], date.fromisoformat(d["period_start"]), date.fromisoformat(d["period_end"]),
            d["base_fen"], d["paid_fen"], prov, d["employer"],
        )  # fmt: skip
    if t == "household_registration":
        return HouseholdRegistrationRecord(
            d["region_code"],
            tuple(RegisteredMember(*m) for m in d["members"]),
            prov,
            d["household_number"],
            RegistrationStatus(d.get("status", RegistrationStatus.ACTIVE.value)),
            None if d.get("cancel_reason") is None else CancellationReason(d["cancel_reason"]),
            None if d.get("cancelled_on") is None else date.fromisoformat(d["cancelled_on"]),
        )
    if t in EVIDENCE_TYPES:
        return evidence_from_json({"type": t} | d, prov)
    raise ValueError(f"unknown record type {t!r}")


def records_to_json(records: tuple[Record, ...]) -> list[dict[str, Any]]:
    return [record_to_json(r) for r in records]


def records_from_json(items: list[dict[str, Any]]) -> tuple[Record, ...]:
    return tuple(record_from_json(d) for d in items)
