"""Building signed authorizations for tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date

from hedui_sdk import IdType, SourceKind
from verifier.domain.consent import ConsentDraft, SignatoryDraft, SignatoryRole, SubjectDraft
from verifier.domain.household import Purpose, Relation, RequestDraft


def consent_draft(
    number: str,
    members: Sequence[tuple[str, Relation]],
    *,
    region: str = "370322",
    purposes: Sequence[Purpose] = tuple(Purpose),
    sources: Sequence[SourceKind] = (),
    valid_from: date = date(2026, 1, 1),
    valid_until: date | None = None,
) -> ConsentDraft:
    """Everyone listed signs for themself (all adults in these tests)."""
    return ConsentDraft(
        number=number,
        region=region,
        subjects=tuple(
            SubjectDraft(IdType.RESIDENT_ID, n, f"测试{i}", rel)
            for i, (n, rel) in enumerate(members)
        ),
        signatories=tuple(
            SignatoryDraft(IdType.RESIDENT_ID, n, f"测试{i}", SignatoryRole.SELF, (i,))
            for i, (n, _) in enumerate(members)
        ),
        sources=tuple(sources),
        purposes=tuple(purposes),
        valid_from=valid_from.isoformat(),
        valid_until=valid_until.isoformat() if valid_until else "",
        evidence_sha256=hashlib.sha256(number.encode()).hexdigest(),
        evidence_location=f"档案 {number}",
    )


def covering(number: str, draft: RequestDraft) -> ConsentDraft:
    """An authorization covering exactly the request's members, every source and purpose."""
    return consent_draft(
        number,
        [(m.id_number, m.relation or Relation.OTHER) for m in draft.members],
        region=draft.region,
    )
