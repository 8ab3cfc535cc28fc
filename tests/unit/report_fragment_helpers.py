"""Shared ground for the tests of reports embedding a peer's fragment (异地协查): one
household of two, the applicant checked here, the spouse answered by the peer
``hedui-linzi`` in a fragment signed for real with a fixed test key.

ID numbers are synthetic (``hedui_sdk.resident_id.make``); the keys are test keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import (
    HouseholdRegistrationRecord,
    IdType,
    IncomeCategory,
    IncomeRecord,
    Provenance,
    RegisteredMember,
    SourceKind,
    Subject,
    Window,
    mask_id_number,
)
from hedui_sdk.resident_id import make
from verifier.domain.federation_routing import RemoteAsk
from verifier.domain.fragment import EmbeddedFragment, FragmentAnswer
from verifier.domain.household import Household, Member, Purpose, Relation, VerificationRequest
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.domain.report import ReportContext, build_report
from verifier.service.federation.requester import ask_request_id
from verifier.signing.fragments import sign_fragment
from verifier.signing.jwks import key_id

PEER = "hedui-linzi"
REQUESTER = "hedui-gaoqing"
REGION = "370322"
AS_OF = datetime(2026, 1, 10, tzinfo=UTC)
CREATED = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
WINDOW = Window(date(2025, 1, 1), date(2025, 12, 31))
APPLICANT_ID = make(REGION, date(1968, 4, 2), 11)
SPOUSE_ID = make("370305", date(1970, 9, 14), 12)
PEER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(3, 35)))
PEER_KID = key_id(PEER_KEY.public_key())
REPORT_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(4, 36)))
SOURCES = (SourceKind.HOUSEHOLD_REGISTRATION, SourceKind.TAX)
VID = "00000000-0000-4000-8000-000000000009"
ASK_ID = ask_request_id(VID, RemoteAsk(PEER, (1,), SOURCES))
"""The request id this check asked the peer about the spouse (member 1) under."""


def request() -> VerificationRequest:
    """The household: the applicant (户籍 here) and the spouse (户籍 at the peer)."""
    return VerificationRequest(
        request_id="req-fed-1",
        case_id="CASE-2026-9",
        authorization_id="SQ-2026-9",
        purposes=(Purpose.DIBAO,),
        household=Household(
            REGION,
            (
                Member(Subject(IdType.RESIDENT_ID, APPLICANT_ID, "测试甲"), Relation.APPLICANT),
                Member(Subject(IdType.RESIDENT_ID, SPOUSE_ID, "测试乙"), Relation.SPOUSE),
            ),
        ),
        sources=SOURCES,
        window=WINDOW,
    )


def _wages(source: str, adapter: str, record_id: str, fen: int) -> IncomeRecord:
    prov = Provenance(source, adapter, "1.0", record_id, AS_OF)
    return IncomeRecord(
        IncomeCategory.WAGES, "salary", WINDOW.start, WINDOW.end, fen, prov, "某公司"
    )


def local_outcomes() -> list[SourceOutcome]:
    """Every member × source answered by this deployment's own sources."""
    reg = HouseholdRegistrationRecord(
        REGION,
        (RegisteredMember("resident_id", APPLICANT_ID, "测试甲", "户主"),),
        Provenance("household_registration", "hr-local", "1.0", "HR-1", AS_OF),
        "HK370322000777",
    )
    return [
        SourceOutcome(
            0, SourceKind.HOUSEHOLD_REGISTRATION, SourceStatus.FOUND, "hr-local", "1.0", AS_OF,
            (reg,), attempts=1,
        ),
        SourceOutcome(
            0, SourceKind.TAX, SourceStatus.FOUND, "tax-local", "1.0", AS_OF,
            (_wages("tax", "tax-local", "TAX-0", 1_200_000),), attempts=1,
        ),
        SourceOutcome(
            1, SourceKind.HOUSEHOLD_REGISTRATION, SourceStatus.NOT_FOUND, "hr-local", "1.0",
            AS_OF, attempts=1,
        ),
        SourceOutcome(
            1, SourceKind.TAX, SourceStatus.FOUND, "tax-local", "1.0", AS_OF,
            (_wages("tax", "tax-local", "TAX-1", 800_000),), attempts=1,
        ),
    ]  # fmt: skip


def peer_answer(
    *,
    requester: str = REQUESTER,
    tax_status: SourceStatus = SourceStatus.FOUND,
    request_id: str = ASK_ID,
) -> FragmentAnswer:
    """The peer's answer about the spouse (member 0 of the 协查, member 1 here)."""
    records = (
        (_wages("tax", "tax-linzi", "T-9", 800_000),) if tax_status is SourceStatus.FOUND else ()
    )
    return FragmentAnswer(
        peer=PEER,
        requester=requester,
        requester_request_id=request_id,
        peer_verification_id="0f0e0d0c-0b0a-4908-8706-050403020100",
        authorization_number="SQ-2026-9",
        created_at=AS_OF,
        members=(mask_id_number(SPOUSE_ID),),
        outcomes=(
            SourceOutcome(
                0, SourceKind.HOUSEHOLD_REGISTRATION, SourceStatus.NOT_FOUND, "hr-linzi", "1.0",
                AS_OF,
            ),
            SourceOutcome(0, SourceKind.TAX, tax_status, "tax-linzi", "1.0", AS_OF, records),
        ),
    )  # fmt: skip


def embedded(envelope: bytes, *, kid: str = PEER_KID, release_seq: int = 42) -> EmbeddedFragment:
    """``envelope`` as the requester keeps it."""
    return EmbeddedFragment(PEER, kid, hashlib.sha256(envelope).hexdigest(), release_seq, envelope)


def remote_outcomes(fragment: EmbeddedFragment, answer: FragmentAnswer) -> list[SourceOutcome]:
    """The applicant's local outcomes and the spouse's from the peer's fragment, mapped to
    the spouse's index here."""
    own = [o for o in local_outcomes() if o.member_index == 0]
    remote = [
        replace(
            o, member_index=1, deployment=fragment.peer, fragment_sha256=fragment.envelope_sha256
        )
        for o in answer.outcomes
    ]
    return own + remote


def context() -> ReportContext:
    return ReportContext(
        report_id="rep-fed-0001",
        version=1,
        previous_sha256=None,
        verification_id=VID,
        created_at=CREATED,
        requester={"system": "case-system-a", "user": "worker-1", "role": "caseworker"},
        deployment=REQUESTER,
    )


def local_report() -> dict[str, Any]:
    return build_report(context(), request(), local_outcomes())


def federated(
    answer: FragmentAnswer | None = None,
) -> tuple[dict[str, Any], EmbeddedFragment]:
    """A report whose spouse was answered by the peer, and the fragment it embeds."""
    answer = answer or peer_answer()
    fragment = embedded(sign_fragment(answer, PEER_KEY))
    doc = build_report(
        context(), request(), remote_outcomes(fragment, answer), fragments=[fragment]
    )
    return doc, fragment
