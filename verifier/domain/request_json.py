"""A validated request as JSON and back, for sealed storage (it holds raw ID numbers)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hedui_sdk import AssetCategory, IdType, IncomeCategory, SourceKind, Subject, Window
from verifier.domain.request_model import (
    Circumstances,
    Declaration,
    DeclaredAsset,
    DeductionClaim,
    DeductionKind,
    Household,
    HukouNature,
    Member,
    Purpose,
    Relation,
    SupporterStatus,
    VerificationRequest,
)


def _member_json(m: Member) -> dict[str, object]:
    doc: dict[str, object] = {
        "id_type": m.subject.id_type.value,
        "id_number": m.subject.id_number,
        "name": m.subject.name,
        "relation": m.relation.value,
        "circumstances": {
            "disability_grade": m.circumstances.disability_grade,
            "serious_illness": m.circumstances.serious_illness,
            "in_school": m.circumstances.in_school,
            "able_to_work": m.circumstances.able_to_work,
            "supporter": m.circumstances.supporter.value,
        },
    }
    # Omitted when empty: requests stored before the field existed read back, and
    # re-serialise, exactly as they were.
    if m.hukou_region:
        doc["hukou_region"] = m.hukou_region
    return doc


def request_to_json(req: VerificationRequest) -> dict[str, object]:
    """A validated request as JSON (with raw ID numbers: seal it before storing)."""
    return {
        "request_id": req.request_id,
        "case_id": req.case_id,
        "authorization_id": req.authorization_id,
        "purposes": [p.value for p in req.purposes],
        "region": req.household.region,
        "members": [_member_json(m) for m in req.household.members],
        "sources": [s.value for s in req.sources],
        "window": {"start": req.window.start.isoformat(), "end": req.window.end.isoformat()},
        "hukou": req.hukou.value,
        "declaration": None
        if req.declaration is None
        else {
            "monthly_income_fen": [[c.value, f] for c, f in req.declaration.monthly_income_fen],
            "assets": [[a.category.value, a.value_fen, a.count] for a in req.declaration.assets],
            "member_count": req.declaration.member_count,
        },
        "deductions": [
            [d.kind.value, d.amount_fen, d.evidence_ref, d.member_index] for d in req.deductions
        ],
        "current_programs": [p.value for p in req.current_programs],
    }


def _circumstances(doc: dict[str, Any] | None) -> Circumstances:
    if not doc:
        return Circumstances()
    return Circumstances(
        disability_grade=doc["disability_grade"],
        serious_illness=doc["serious_illness"],
        in_school=doc["in_school"],
        able_to_work=doc["able_to_work"],
        supporter=SupporterStatus(doc["supporter"]),
    )


def request_from_json(doc: dict[str, Any]) -> VerificationRequest:
    decl = doc.get("declaration")
    return VerificationRequest(
        request_id=doc["request_id"],
        case_id=doc["case_id"],
        authorization_id=doc["authorization_id"],
        purposes=tuple(Purpose(p) for p in doc["purposes"]),
        household=Household(
            region=doc["region"],
            members=tuple(
                Member(
                    subject=Subject(IdType(m["id_type"]), m["id_number"], m["name"]),
                    relation=Relation(m["relation"]),
                    circumstances=_circumstances(m.get("circumstances")),
                    hukou_region=m.get("hukou_region", ""),
                )
                for m in doc["members"]
            ),
        ),
        sources=tuple(SourceKind(s) for s in doc["sources"]),
        window=Window(
            date.fromisoformat(doc["window"]["start"]), date.fromisoformat(doc["window"]["end"])
        ),
        hukou=HukouNature(doc.get("hukou", "rural")),
        declaration=None
        if not decl
        else Declaration(
            monthly_income_fen=tuple((IncomeCategory(c), f) for c, f in decl["monthly_income_fen"]),
            assets=tuple(DeclaredAsset(AssetCategory(c), v, n) for c, v, n in decl["assets"]),
            member_count=decl["member_count"],
        ),
        deductions=tuple(
            DeductionClaim(DeductionKind(k), a, e, i) for k, a, e, i in doc.get("deductions", [])
        ),
        current_programs=tuple(Purpose(p) for p in doc.get("current_programs", [])),
    )
