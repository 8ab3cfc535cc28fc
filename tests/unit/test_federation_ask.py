"""What the answering deployment checks before it asks its sources: the agreement with
the requester and the 授权书 must each cover every purpose, source and member asked, on
a day the 授权书 is valid; the first gap is the refusal's reason."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from hedui_sdk import IdType, SourceKind, Subject, Window
from verifier.domain.federation_ask import (
    AskAuthorization,
    AskRefusal,
    FederationAsk,
    outbound_refusal,
    refusal,
)
from verifier.domain.peers import PeerConfig
from verifier.domain.request_model import Purpose

TODAY = date(2026, 11, 30)
SERVED = ("370305", "370303")
"""The regions the answering deployment serves."""
AGREEMENT = PeerConfig(
    name="hedui-gaoqing", regions=("370322",), endpoint="127.0.0.1:1", ca=Path("ca.pem"),
    jwks=Path("jwks.json"), key_ids=("a" * 64,), purposes=(Purpose.DIBAO, Purpose.LINSHI),
    sources=(SourceKind.TAX, SourceKind.REAL_ESTATE), asks_sources=(SourceKind.REAL_ESTATE,),
)  # fmt: skip
AUTH = AskAuthorization(
    number="SQ-2026-1", purposes=(Purpose.DIBAO,), sources=(SourceKind.TAX, SourceKind.REAL_ESTATE),
    valid_from=date(2026, 11, 1), valid_until=date(2027, 10, 31), signed_for=(0, 1),
    evidence_sha256="e" * 64,
)  # fmt: skip
ASK = FederationAsk(
    requester="hedui-gaoqing", request_id="req-1",
    members=(
        Subject(IdType.RESIDENT_ID, "370305199001011234", "张三"),
        Subject(IdType.RESIDENT_ID, "370305199202021235", "李四"),
    ),
    purposes=(Purpose.DIBAO,), sources=(SourceKind.TAX,), authorization=AUTH,
    region="370305", window=Window(date(2026, 5, 1), date(2026, 10, 31)),
)  # fmt: skip


def _ask(**over: object) -> FederationAsk:
    return dataclasses.replace(ASK, **over)  # type: ignore[arg-type]


def _auth(**over: object) -> FederationAsk:
    return _ask(authorization=dataclasses.replace(AUTH, **over))  # type: ignore[arg-type]


def test_what_both_cover_is_not_refused() -> None:
    assert refusal(AGREEMENT, ASK, TODAY, SERVED) is None
    assert refusal(AGREEMENT, _auth(valid_until=None), TODAY, SERVED) is None


@pytest.mark.parametrize(
    ("ask", "reason"),
    [
        # A region served elsewhere (the requester's own, say) is refused before all else.
        (_ask(region="370322", purposes=(Purpose.TEKUN,)), AskRefusal.REGION_NOT_SERVED),
        (_ask(purposes=(Purpose.TEKUN,)), AskRefusal.PURPOSE_NOT_AGREED),
        (_ask(sources=(SourceKind.BANK,)), AskRefusal.SOURCE_NOT_AGREED),
        (_ask(purposes=()), AskRefusal.PURPOSE_NOT_AGREED),
        (_ask(sources=()), AskRefusal.SOURCE_NOT_AGREED),
        (_ask(purposes=(Purpose.LINSHI,)), AskRefusal.PURPOSE_NOT_AUTHORIZED),
        (_auth(sources=(SourceKind.REAL_ESTATE,)), AskRefusal.SOURCE_NOT_AUTHORIZED),
        (_auth(signed_for=(0,)), AskRefusal.MEMBER_NOT_SIGNATORY),
        (_auth(valid_until=date(2026, 11, 29)), AskRefusal.AUTHORIZATION_NOT_VALID),
        (_auth(valid_from=date(2026, 12, 1)), AskRefusal.AUTHORIZATION_NOT_VALID),
    ],
)
def test_the_first_gap_is_the_reason(ask: FederationAsk, reason: AskRefusal) -> None:
    assert refusal(AGREEMENT, ask, TODAY, SERVED) is reason


def test_the_requester_checks_purposes_sources_and_the_authorization() -> None:
    assert outbound_refusal(AGREEMENT, _ask(sources=(SourceKind.REAL_ESTATE,)), TODAY) is None
    # This side may ask the peer about real estate only (asks_sources), not tax.
    assert outbound_refusal(AGREEMENT, ASK, TODAY) is AskRefusal.SOURCE_NOT_AGREED
    both = _ask(sources=(SourceKind.REAL_ESTATE, SourceKind.TAX))
    assert outbound_refusal(AGREEMENT, both, TODAY) is AskRefusal.SOURCE_NOT_AGREED
    assert outbound_refusal(AGREEMENT, _ask(purposes=(Purpose.TEKUN,)), TODAY) is (
        AskRefusal.PURPOSE_NOT_AGREED
    )
    unsigned = _ask(
        sources=(SourceKind.REAL_ESTATE,), authorization=dataclasses.replace(AUTH, signed_for=(1,))
    )
    assert outbound_refusal(AGREEMENT, unsigned, TODAY) is AskRefusal.MEMBER_NOT_SIGNATORY
    assert outbound_refusal(AGREEMENT, _ask(purposes=()), TODAY) is AskRefusal.PURPOSE_NOT_AGREED
    assert outbound_refusal(AGREEMENT, _ask(sources=()), TODAY) is AskRefusal.SOURCE_NOT_AGREED


def test_a_deployment_serving_no_region_refuses_every_ask() -> None:
    assert refusal(AGREEMENT, ASK, TODAY, ()) is AskRefusal.REGION_NOT_SERVED
