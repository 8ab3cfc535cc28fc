"""Translating a request from the wire does work bounded by the documented limits, not by
the message size (issue 12): a 4 MiB request holds a million members."""

from __future__ import annotations

from datetime import date

import pytest
from hedui.v1 import common_pb2
from hedui.v1 import consent_pb2 as cpb
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import SourceKind
from verifier.api.consent_servicer import draft_from_pb as consent_draft_from_pb
from verifier.api.translate import draft_from_pb
from verifier.domain.consent import validate_consent
from verifier.domain.errors import InvalidArgument
from verifier.domain.household import validate_request

TODAY = date(2026, 11, 26)
N = 200_000  # a 4 MiB request holds five times as many


def wire(message: pb.CreateVerificationRequest) -> pb.CreateVerificationRequest:
    return pb.CreateVerificationRequest.FromString(message.SerializeToString())


@pytest.mark.parametrize(
    ("request_", "field", "kept"),
    [
        (
            pb.CreateVerificationRequest(household=pb.Household(members=[pb.Member()] * N)),
            "household.members",
            30,
        ),
        (pb.CreateVerificationRequest(deductions=[pb.Deduction()] * N), "deductions", 100),
        (
            pb.CreateVerificationRequest(sources=[common_pb2.SOURCE_KIND_TAX] * N),
            "sources",
            len(SourceKind),
        ),
        (pb.CreateVerificationRequest(purposes=[common_pb2.PURPOSE_DIBAO] * N), "purposes", 5),
        (
            pb.CreateVerificationRequest(current_programs=[common_pb2.PURPOSE_DIBAO] * N),
            "current_programs",
            5,
        ),
        (
            pb.CreateVerificationRequest(
                declaration=pb.Declaration(assets=[pb.DeclaredAsset()] * N)
            ),
            "declaration.assets",
            100,
        ),
        (
            pb.CreateVerificationRequest(
                declaration=pb.Declaration(incomes=[pb.DeclaredIncome()] * N)
            ),
            "declaration.incomes",
            4,
        ),
    ],
)
def test_a_list_past_its_bound_is_named_and_only_its_head_translated(
    request_: pb.CreateVerificationRequest, field: str, kept: int
) -> None:
    draft = draft_from_pb(wire(request_))
    assert [(v.field, v.description) for v in draft.wire_violations] == [
        (field, f"must have at most {kept} entries, got {N}")
    ]
    lists = {
        "household.members": draft.members,
        "deductions": draft.deductions,
        "sources": draft.sources,
        "purposes": draft.purposes,
        "current_programs": draft.current_programs,
        "declaration.assets": draft.declaration.assets if draft.declaration else (),
        "declaration.incomes": draft.declaration.incomes if draft.declaration else (),
    }
    assert len(lists[field]) == kept
    with pytest.raises(InvalidArgument) as ei:
        validate_request(draft, today=TODAY)
    assert field in {v.field for v in ei.value.violations}


def test_a_consent_past_its_bounds_is_named() -> None:
    c = cpb.Consent(
        subjects=[cpb.ConsentSubject()] * 10**5,
        signatories=[cpb.Signatory(signs_for=[0] * N)],
    )
    draft = consent_draft_from_pb(cpb.Consent.FromString(c.SerializeToString()))
    assert len(draft.subjects) == 40 and len(draft.signatories[0].signs_for) == 40
    with pytest.raises(InvalidArgument) as ei:
        validate_consent(draft, today=TODAY)
    named = {v.field for v in ei.value.violations}
    assert {"subjects", "signatories[0].signs_for"} <= named
