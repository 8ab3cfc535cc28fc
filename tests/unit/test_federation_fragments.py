"""Federation fragments: the requester accepts a peer's signed answer only when a key it
pinned for that peer signed it, the bytes are untouched, and it answers this request —
exactly the members × sources asked; registration records travel masked."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import (
    HouseholdRegistrationRecord,
    IncomeCategory,
    IncomeRecord,
    Provenance,
    RegisteredMember,
    SourceKind,
)
from verifier.domain.fragment import (
    REASON_UNREADABLE,
    FragmentAnswer,
    FragmentError,
    FragmentRefusal,
)
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.signing.fragments import sign_fragment, verify_fragment
from verifier.signing.jwks import PublicKey, key_id

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RAW_ID = "370305199001011234"
ASKED = {(0, SourceKind.TAX), (0, SourceKind.HOUSEHOLD_REGISTRATION)}


def _answer(request_id: str = "req-1") -> FragmentAnswer:
    prov = Provenance("tax", "tax-linzi", "1.0", "T-1", T0)
    income = IncomeRecord(
        IncomeCategory.WAGES, "工资", T0.date(), T0.date(), 123_456, prov, "某公司"
    )
    reg = HouseholdRegistrationRecord(
        "370305",
        (RegisteredMember("resident_id", RAW_ID, "张三", "self"),),
        Provenance("household_registration", "hr-linzi", "1.0", "H-1", T0),
        "HH-1",
    )
    return FragmentAnswer(
        peer="hedui-linzi",
        requester="hedui-gaoqing",
        requester_request_id=request_id,
        peer_verification_id="0f0e0d0c-0b0a-4908-8706-050403020100",
        authorization_number="SQ-2026-1",
        created_at=T0,
        members=("3703**********1234",),
        outcomes=(
            SourceOutcome(0, SourceKind.TAX, SourceStatus.FOUND, "tax-linzi", "1.0", T0, (income,)),
            SourceOutcome(
                0, SourceKind.HOUSEHOLD_REGISTRATION, SourceStatus.FOUND, "hr-linzi", "1.0", T0,
                (reg,),
            ),
        ),
    )  # fmt: skip


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _pinned(key: Ed25519PrivateKey) -> dict[str, PublicKey]:
    return {key_id(key.public_key()): key.public_key()}


def _verify(envelope: bytes, pinned: dict[str, PublicKey], request_id: str = "req-1") -> object:
    return verify_fragment(
        envelope, pinned, peer="hedui-linzi", requester="hedui-gaoqing",
        request_id=request_id, asked=ASKED,
    )  # fmt: skip


def _refusal(envelope: bytes, pinned: dict[str, PublicKey], **kw: str) -> FragmentRefusal:
    with pytest.raises(FragmentError) as caught:
        _verify(envelope, pinned, **kw)
    return caught.value.reason


def test_a_fragment_signed_by_a_pinned_key_is_accepted_with_its_provenance(
    key: Ed25519PrivateKey,
) -> None:
    envelope = sign_fragment(_answer(), key)
    verified = verify_fragment(
        envelope, _pinned(key), peer="hedui-linzi", requester="hedui-gaoqing",
        request_id="req-1", asked=ASKED,
    )  # fmt: skip
    assert verified.key_id == key_id(key.public_key())
    assert len(verified.envelope_sha256) == 64
    tax = next(o for o in verified.answer.outcomes if o.source is SourceKind.TAX)
    assert tax.status is SourceStatus.FOUND
    assert tax.records[0].amount_fen == 123_456  # type: ignore[union-attr]
    assert verified.answer.authorization_number == "SQ-2026-1"


def test_no_raw_id_number_or_full_name_travels_in_a_fragment(key: Ed25519PrivateKey) -> None:
    envelope = sign_fragment(_answer(), key)
    payload = base64.b64decode(json.loads(envelope)["payload"]).decode()
    assert RAW_ID not in payload and "张三" not in payload
    assert "3703**********1234" in payload


def test_a_changed_byte_is_refused_as_tampered(key: Ed25519PrivateKey) -> None:
    env = json.loads(sign_fragment(_answer(), key))
    body = base64.b64decode(env["payload"]).replace(b"123456", b"000001")
    env["payload"] = base64.b64encode(body).decode()
    assert _refusal(json.dumps(env).encode(), _pinned(key)) is FragmentRefusal.TAMPERED


def test_a_fragment_signed_by_a_key_not_pinned_is_refused(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    envelope = sign_fragment(_answer(), other)
    assert _refusal(envelope, _pinned(key)) is FragmentRefusal.UNPINNED_KEY


def test_a_fragment_for_another_request_is_refused_as_replayed(key: Ed25519PrivateKey) -> None:
    envelope = sign_fragment(_answer("req-1"), key)
    assert _refusal(envelope, _pinned(key), request_id="req-2") is FragmentRefusal.REPLAYED


def test_a_fragment_answering_more_or_less_than_asked_is_refused(
    key: Ed25519PrivateKey,
) -> None:
    envelope = sign_fragment(_answer(), key)
    with pytest.raises(FragmentError) as caught:
        verify_fragment(
            envelope, _pinned(key), peer="hedui-linzi", requester="hedui-gaoqing",
            request_id="req-1", asked={(0, SourceKind.TAX)},
        )  # fmt: skip
    assert caught.value.reason is FragmentRefusal.UNASKED


def test_a_fragment_naming_other_deployments_is_refused(key: Ed25519PrivateKey) -> None:
    envelope = sign_fragment(_answer(), key)
    with pytest.raises(FragmentError) as caught:
        verify_fragment(
            envelope, _pinned(key), peer="hedui-linzi", requester="hedui-jixi",
            request_id="req-1", asked=ASKED,
        )  # fmt: skip
    assert caught.value.reason is FragmentRefusal.WRONG_PEER


@pytest.mark.parametrize("envelope", [b"not json", b"[]", b'{"signatures": 1}'])
def test_what_is_not_an_envelope_is_refused_as_malformed(
    key: Ed25519PrivateKey, envelope: bytes
) -> None:
    assert _refusal(envelope, _pinned(key)) is FragmentRefusal.MALFORMED


def test_a_report_envelope_is_not_a_fragment(key: Ed25519PrivateKey) -> None:
    env = json.loads(sign_fragment(_answer(), key))
    env["payloadType"] = "application/vnd.hedui.report+json; version=1"
    assert _refusal(json.dumps(env).encode(), _pinned(key)) is FragmentRefusal.MALFORMED


def _with_tax(**changes: object) -> FragmentAnswer:
    """The answer with its tax outcome changed (DENIED with a reason, say)."""
    answer = _answer()
    outcomes = tuple(
        replace(o, **changes) if o.source is SourceKind.TAX else o  # type: ignore[arg-type]
        for o in answer.outcomes
    )
    return replace(answer, outcomes=outcomes)


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("SOURCE_DENIED", "SOURCE_DENIED"),
        ("", ""),
        ("refused: 张三 370305199001011234", REASON_UNREADABLE),
        ("<script>x</script>", REASON_UNREADABLE),
        ("LOWER_case", REASON_UNREADABLE),
        ("A" * 65, REASON_UNREADABLE),
        ("SOURCE_DENIED\n", REASON_UNREADABLE),
    ],
)
def test_a_peer_outcome_reason_is_shown_only_when_it_is_a_code(
    key: Ed25519PrivateKey, reason: str, shown: str
) -> None:
    """A peer's words never reach the requester's reports: only a code is taken."""
    answer = _with_tax(status=SourceStatus.DENIED, records=(), reason=reason)
    verified = verify_fragment(
        sign_fragment(answer, key), _pinned(key), peer="hedui-linzi",
        requester="hedui-gaoqing", request_id="req-1", asked=ASKED,
    )  # fmt: skip
    tax = next(o for o in verified.answer.outcomes if o.source is SourceKind.TAX)
    assert (tax.status, tax.reason) == (SourceStatus.DENIED, shown)


@pytest.mark.parametrize(
    "changes",
    [
        {"adapter": "tax linzi"},
        {"adapter": "<b>tax</b>"},
        {"adapter_version": "1.0\n"},
        {"adapter_version": "版本1"},
        {"adapter": "t" * 65},
    ],
)
def test_an_adapter_name_or_version_that_is_no_identifier_is_malformed(
    key: Ed25519PrivateKey, changes: dict[str, str]
) -> None:
    envelope = sign_fragment(_with_tax(**changes), key)
    assert _refusal(envelope, _pinned(key)) is FragmentRefusal.MALFORMED


def test_a_record_provenance_adapter_that_is_no_identifier_is_malformed(
    key: Ed25519PrivateKey,
) -> None:
    prov = Provenance("tax", "tax linzi <x>", "1.0", "T-1", T0)
    income = IncomeRecord(IncomeCategory.WAGES, "工资", T0.date(), T0.date(), 1, prov, "某公司")
    envelope = sign_fragment(_with_tax(records=(income,)), key)
    assert _refusal(envelope, _pinned(key)) is FragmentRefusal.MALFORMED
