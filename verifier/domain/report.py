"""The report document (``schema: hedui.report/v1``) built from a verification's outcomes.

Pure: the caller supplies ids, clock readings and the assessment section; this module
only shapes JSON. Every amount is integer fen; IDs and names appear masked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hedui_sdk import (
    AssetRecord,
    ContributionRecord,
    HouseholdRegistrationRecord,
    IncomeRecord,
    Provenance,
    Record,
    mask_id_number,
    mask_name,
)
from verifier.domain.evidence_codec import evidence_json
from verifier.domain.fragment import EmbeddedFragment
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import SourceOutcome, SourceStatus, completeness_of
from verifier.domain.ports.outcomes import OutcomeSummary
from verifier.domain.records_codec import registration_status_json
from verifier.domain.timestamps import rfc3339

SCHEMA = "hedui.report/v1"


@dataclass(frozen=True, slots=True)
class ReportContext:
    report_id: str
    version: int
    previous_sha256: str | None
    verification_id: str
    created_at: datetime
    requester: Mapping[str, str]
    deployment: str = ""
    """This deployment's federation name (its client certificate's common name, what
    peers' fragments name as their requester); stated only by a report that embeds
    fragments, so reports of checks made here alone read exactly as before."""


def _provenance(p: Provenance, deployment: str = "") -> dict[str, Any]:
    out = {
        "source": p.source,
        "adapter": p.adapter,
        "adapter_version": p.adapter_version,
        "record_id": p.record_id,
        "as_of": rfc3339(p.as_of),
    }
    # Only a peer's record says where it came from: local records stay as they were.
    if deployment:
        out["deployment"] = deployment
    return out


def _area(a: Decimal | None) -> str | None:
    return None if a is None else format(a, "f")


def record_json(member_index: int, r: Record, deployment: str = "") -> dict[str, Any]:
    """One record as report JSON (money in fen, decimals as strings, IDs masked);
    ``deployment`` names the peer whose fragment gave it ("" for this deployment's own)."""
    base: dict[str, Any] = {"member_index": member_index}
    if isinstance(r, IncomeRecord):
        base |= {
            "type": "income",
            "category": r.category.value,
            "kind": r.kind,
            "period_start": r.period_start.isoformat(),
            "period_end": r.period_end.isoformat(),
            "amount_fen": r.amount_fen,
            "payer": r.payer,
        }
    elif isinstance(r, AssetRecord):
        base |= {
            "type": "asset",
            "category": r.category.value,
            "kind": r.kind,
            "value_fen": r.value_fen,
            "count": r.count,
            "area_m2": _area(r.area_m2),
            "details": dict(sorted(r.details.items())),
        }
    elif isinstance(r, ContributionRecord):
        base |= {
            "type": "contribution",
            "scheme": r.scheme,
            "period_start": r.period_start.isoformat(),
            "period_end": r.period_end.isoformat(),
            "base_fen": r.base_fen,
            "paid_fen": r.paid_fen,
            "employer": r.employer,
        }
    elif isinstance(r, HouseholdRegistrationRecord):
        base |= {
            "type": "household_registration",
            "region_code": r.region_code,
            "household_number": mask_id_number(r.household_number) if r.household_number else "",
            "members": [
                {
                    "id_type": m.id_type,
                    "id_number_masked": mask_id_number(m.id_number),
                    "name_masked": mask_name(m.name),
                    "relation": m.relation,
                }
                for m in r.members
            ],
        }
        base |= registration_status_json(r)
    else:
        base |= evidence_json(r)
    base["provenance"] = _provenance(r.provenance, deployment)
    return base


def _overlaps(start: date, end: date, window_start: date, window_end: date) -> bool:
    return start <= window_end and end >= window_start


def totals(request: VerificationRequest, outcomes: Sequence[SourceOutcome]) -> dict[str, Any]:
    """Simple sums: income records overlapping the window, and asset values, per member."""
    w = request.window
    by_member: list[dict[str, int]] = [
        {"member_index": i, "income_fen": 0, "assets_fen": 0}
        for i in range(len(request.household.members))
    ]
    income_by_cat: dict[str, int] = {}
    assets_by_cat: dict[str, int] = {}
    for o in outcomes:
        for r in o.records:
            if isinstance(r, IncomeRecord) and _overlaps(
                r.period_start, r.period_end, w.start, w.end
            ):
                by_member[o.member_index]["income_fen"] += r.amount_fen
                income_by_cat[r.category.value] = (
                    income_by_cat.get(r.category.value, 0) + r.amount_fen
                )
            elif isinstance(r, AssetRecord):
                by_member[o.member_index]["assets_fen"] += r.value_fen
                assets_by_cat[r.category.value] = (
                    assets_by_cat.get(r.category.value, 0) + r.value_fen
                )
    return {
        "income_fen": sum(m["income_fen"] for m in by_member),
        "assets_fen": sum(m["assets_fen"] for m in by_member),
        "income_by_category": dict(sorted(income_by_cat.items())),
        "assets_by_category": dict(sorted(assets_by_cat.items())),
        "by_member": by_member,
    }


def completeness_json(outcomes: Sequence[SourceOutcome]) -> dict[str, Any]:
    answered = sum(1 for o in outcomes if o.status in (SourceStatus.FOUND, SourceStatus.NOT_FOUND))
    return {
        "status": completeness_of(tuple(outcomes)).value,
        "answered": answered,
        "expected": len(outcomes),
        "missing": [
            {"member_index": o.member_index, "source": o.source.value, "status": o.status.value}
            for o in outcomes
            if o.status not in (SourceStatus.FOUND, SourceStatus.NOT_FOUND)
        ],
    }


def sorted_outcomes(outcomes: Sequence[SourceOutcome]) -> list[SourceOutcome]:
    return sorted(outcomes, key=lambda o: (o.member_index, o.source.value))


def _source_json(o: SourceOutcome, created_at: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "member_index": o.member_index,
        "source": o.source.value,
        "status": o.status.value,
        "as_of": rfc3339(o.as_of) if o.as_of else None,
        "adapter": o.adapter,
        "adapter_version": o.adapter_version,
        "reason": o.reason,
        "attempts": o.attempts,
        "record_count": len(o.records),
        # Reused within the source's reuse window: as_of is the original answer's.
        "reused": o.reused,
        "fetched_at": rfc3339(o.fetched_at) if o.fetched_at else None,
        "due_date": o.due_at.date().isoformat() if o.due_at else None,
        "overdue": bool(o.due_at and o.status is SourceStatus.PENDING and created_at > o.due_at),
    }
    # A peer's answer (异地协查) names the peer and its fragment; a local entry has no such
    # keys, so reports of checks made here alone read exactly as before.
    if o.deployment:
        entry["deployment"] = o.deployment
        entry["fragment_sha256"] = o.fragment_sha256
    return entry


def fragment_json(fragment: EmbeddedFragment, members: Sequence[int]) -> dict[str, Any]:
    """A peer's fragment as the report embeds it: its provenance, ``members`` (the
    check's member index of each member of the 协查, in the 协查's order, so the
    fragment's member ``k`` is the report's member ``members[k]``) and the envelope's
    exact bytes in standard base64 (an envelope re-serialised from parsed JSON would not
    hash to ``envelope_sha256``: the peer chose its layout)."""
    return {
        "peer": fragment.peer,
        "key_id": fragment.key_id,
        "envelope_sha256": fragment.envelope_sha256,
        "release_seq": fragment.release_seq,
        "members": list(members),
        "envelope": base64.b64encode(fragment.envelope).decode("ascii"),
    }


def _asked_members(outcomes: Sequence[SourceOutcome], sha: str) -> list[int]:
    """The check's members a fragment answers, in the order its 协查 named them: routing
    names an ask's members in the check's order (ascending indices), and every member
    asked has an outcome from the fragment."""
    return sorted({o.member_index for o in outcomes if o.fragment_sha256 == sha})


def build_report(
    ctx: ReportContext,
    request: VerificationRequest,
    outcomes: Sequence[SourceOutcome],
    assessment: Mapping[str, Any] | None = None,
    fragments: Sequence[EmbeddedFragment] = (),
) -> dict[str, Any]:
    """The report document; ``assessment`` adds the policy sections when present.

    ``fragments`` are the peers' accepted fragments; those some outcome names (by
    ``fragment_sha256``) are embedded whole under ``"fragments"``, sorted by envelope
    SHA-256, and the report then names this deployment (``ctx.deployment``) under
    ``"deployment"``. A report with none has neither key.
    """
    ordered = sorted_outcomes(outcomes)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "report_id": ctx.report_id,
        "version": ctx.version,
        "previous_sha256": ctx.previous_sha256,
        "verification_id": ctx.verification_id,
        "case_id": request.case_id,
        "authorization_id": request.authorization_id,
        "region": request.household.region,
        "purposes": [p.value for p in request.purposes],
        "requester": dict(ctx.requester),
        "created_at": rfc3339(ctx.created_at),
        "window": {
            "start": request.window.start.isoformat(),
            "end": request.window.end.isoformat(),
        },
        "members": [
            {
                "index": i,
                "id_type": m.subject.id_type.value,
                "id_number_masked": mask_id_number(m.subject.id_number),
                "name_masked": mask_name(m.subject.name),
                "relation": m.relation.value,
            }
            for i, m in enumerate(request.household.members)
        ],
        "sources": [_source_json(o, ctx.created_at) for o in ordered],
        "records": [
            record_json(o.member_index, r, o.deployment) for o in ordered for r in o.records
        ],
        "totals": totals(request, ordered),
        "completeness": completeness_json(ordered),
    }
    named = {o.fragment_sha256 for o in ordered if o.deployment and o.fragment_sha256}
    kept = {f.envelope_sha256: f for f in fragments if f.envelope_sha256 in named}
    if kept:
        # Whose the report is, for the fragments' requester to be checked against.
        if ctx.deployment:
            doc["deployment"] = ctx.deployment
        doc["fragments"] = [
            fragment_json(kept[sha], _asked_members(ordered, sha)) for sha in sorted(kept)
        ]
    if assessment:
        doc |= dict(assessment)
    return doc


class EmbeddedFragmentError(ValueError):
    """A report's ``"fragments"`` entry that is not one :func:`build_report` writes (the
    message names the entry and field, never its content)."""


def _fragment_items(doc: Mapping[str, Any]) -> list[Any]:
    items = doc.get("fragments", [])
    if not isinstance(items, list):
        raise EmbeddedFragmentError("fragments must be a list")
    return items


def _fragment_of(i: int, item: Any) -> EmbeddedFragment:
    where = f"fragments[{i}]"
    if not isinstance(item, Mapping):
        raise EmbeddedFragmentError(f"{where} must be an object")
    for key in ("peer", "key_id", "envelope_sha256", "envelope"):
        if not isinstance(item.get(key), str):
            raise EmbeddedFragmentError(f"{where}.{key} must be text")
    seq = item.get("release_seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise EmbeddedFragmentError(f"{where}.release_seq must be an integer")
    try:
        envelope = base64.b64decode(item["envelope"], validate=True)
    except (binascii.Error, ValueError):
        raise EmbeddedFragmentError(f"{where}.envelope must be base64") from None
    return EmbeddedFragment(
        peer=item["peer"],
        key_id=item["key_id"],
        envelope_sha256=item["envelope_sha256"],
        release_seq=seq,
        envelope=envelope,
    )


def fragments_of(doc: Mapping[str, Any]) -> list[EmbeddedFragment]:
    """The peers' fragments a report embeds, in the report's order, with the envelope
    bytes exactly as the peer signed them. Their SHA-256 is not checked here (see
    :func:`envelope_sha256_matches`); :class:`EmbeddedFragmentError` for an entry of
    another shape."""
    return [_fragment_of(i, item) for i, item in enumerate(_fragment_items(doc))]


def fragment_members(doc: Mapping[str, Any]) -> list[tuple[int, ...]]:
    """Each embedded fragment's ``"members"`` (see :func:`fragment_json`), in the report's
    order; :class:`EmbeddedFragmentError` when an entry has none or another shape."""
    out: list[tuple[int, ...]] = []
    for i, item in enumerate(_fragment_items(doc)):
        members = item.get("members") if isinstance(item, Mapping) else None
        if not isinstance(members, list) or not all(
            isinstance(m, int) and not isinstance(m, bool) for m in members
        ):
            raise EmbeddedFragmentError(f"fragments[{i}].members must be a list of integers")
        out.append(tuple(members))
    return out


def envelope_sha256_matches(fragment: EmbeddedFragment) -> bool:
    """Whether the embedded envelope bytes hash to the SHA-256 the report names."""
    return hashlib.sha256(fragment.envelope).hexdigest() == fragment.envelope_sha256


def answered_by(deployment: object) -> str:
    """``由 NAME 协查`` for what a peer deployment answered (异地协查): ``deployment`` is a
    source entry's or a record provenance's ``"deployment"``; "" for this deployment's own."""
    return f"由 {deployment} 协查" if isinstance(deployment, str) and deployment else ""


def _summary_source(s: Mapping[str, Any]) -> dict[str, Any]:
    out = {
        "member_index": s["member_index"],
        "source": s["source"],
        "status": s["status"],
        "record_count": s["record_count"],
        # A closed check's progress is read from here (its outcome rows are gone).
        "reason": s["reason"],
    }
    # Which deployment answered (a deployment's name is no personal data).
    if s.get("deployment"):
        out["deployment"] = s["deployment"]
    return out


def summary_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a report that carries no personal data: statuses, counts, totals."""
    return {
        "report_id": doc["report_id"],
        "version": doc["version"],
        "region": doc["region"],
        "member_count": len(doc["members"]),
        "completeness": doc["completeness"]["status"],
        "sources": [_summary_source(s) for s in doc["sources"]],
        "total_income_fen": doc["totals"]["income_fen"],
        "total_assets_fen": doc["totals"]["assets_fen"],
    }


def progress_of(summary: Mapping[str, Any]) -> list[OutcomeSummary]:
    """The member × source statuses a report summary records, by member index then source
    (summaries written before reasons were kept give none)."""
    out = [
        OutcomeSummary(
            int(s["member_index"]),
            str(s["source"]),
            str(s["status"]),
            str(s.get("reason", "")),
            str(s.get("deployment", "")),
        )
        for s in summary.get("sources", ())
    ]
    return sorted(out, key=lambda p: (p.member_index, p.source))
