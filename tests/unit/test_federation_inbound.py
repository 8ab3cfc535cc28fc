"""The answering side of a 协查, with the in-memory store and fake sources: an
untrusted requester or a gap in the agreement or the 授权书 is refused with its reason
and audited before any source is asked; a covered 协查 is answered with a fragment the
requester's check accepts, its release audited with the requester's request id and
授权书 number; a retry gets the kept answer without asking again; a reused request id
with other content is a Conflict."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import Adapter, IdType, SourceKind, Subject, Window
from hedui_sdk.errors import PermanentSourceError
from tests.fakes import FakeAdapter, InMemoryStore
from tests.fakes.gated_source import GatedAdapter
from tests.federation_helpers import PEER, PEER_REGION, requester_agreement, tax_ask
from verifier.domain.errors import Conflict, PermissionDenied, ResourceExhausted
from verifier.domain.federation_ask import FederationAsk
from verifier.domain.fragment import FragmentAnswer
from verifier.domain.outcomes import SourceStatus
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.service.fanout import FanOut, bind_sources
from verifier.service.federation.inbound import InboundAssist
from verifier.service.federation.peers import PeerTrustService
from verifier.signing.fragments import VerifiedFragment, sign_fragment, verify_fragment
from verifier.signing.jwks import key_id

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MEMBER_ID = "370305199001011234"
OUR_KEY = Ed25519PrivateKey.generate()
THEIR_KID = "a" * 64
REQUESTER = requester_agreement(THEIR_KID)
ASK = tax_ask(
    Subject(IdType.RESIDENT_ID, MEMBER_ID, "张三"),
    consent_from=date(2026, 11, 1),
    window=Window(date(2026, 5, 1), date(2026, 10, 31)),
)


@dataclasses.dataclass
class Rig:
    store: InMemoryStore
    tax: FakeAdapter
    assist: InboundAssist
    trust: PeerTrustService


def _sign(answer: FragmentAnswer) -> bytes:
    return sign_fragment(answer, OUR_KEY)


def _answering(
    store: InMemoryStore,
    adapters: dict[SourceKind, Adapter],
    agreement: PeerConfig = REQUESTER,
    clock: Callable[[], datetime] = lambda: NOW,
) -> tuple[PeerTrustService, InboundAssist]:
    """This deployment (PEER) answering ``agreement``'s peer from ``adapters``, signing
    with OUR_KEY; the peer's key is pinned, and trusted once a test says so."""
    trust = PeerTrustService(
        store, FederationConfig(peers={agreement.name: agreement}),
        lambda _p: {THEIR_KID: OUR_KEY.public_key()}, clock=clock,
    )  # fmt: skip
    assist = InboundAssist(
        store, trust, FanOut(bind_sources(adapters, {})), _sign, name=PEER,
        regions=(PEER_REGION,), pseudonym_key=b"k" * 32, deadline_seconds=5.0, clock=clock,
    )  # fmt: skip
    return trust, assist


def _rig(now: datetime = NOW) -> Rig:
    store = InMemoryStore(clock=lambda: now)
    tax = FakeAdapter(SourceKind.TAX, income_fen={MEMBER_ID: 250_000})
    trust, assist = _answering(store, {SourceKind.TAX: tax}, clock=lambda: now)
    return Rig(store, tax, assist, trust)


@pytest.fixture
async def rig() -> Rig:
    return _rig()


def _bodies(store: InMemoryStore) -> list[dict[str, object]]:
    return [row.body for row in store.tables.audit]


def _verified(envelope: bytes) -> VerifiedFragment:
    """The fragment answering ASK as the requester accepts it, pinning this side's key."""
    return verify_fragment(
        envelope, {key_id(OUR_KEY.public_key()): OUR_KEY.public_key()},
        peer=PEER, requester=REQUESTER.name, request_id=ASK.request_id,
        asked={(0, SourceKind.TAX)},
    )  # fmt: skip


async def test_an_untrusted_requester_is_refused_and_audited_before_any_source(rig: Rig) -> None:
    with pytest.raises(PermissionDenied) as caught:
        await rig.assist.answer(ASK)
    assert caught.value.reason == "PEER_NOT_TRUSTED"
    assert rig.tax.calls == 0
    [entry] = _bodies(rig.store)
    assert (entry["action"], entry["outcome"], entry["reason"]) == (
        "authorize", "deny", "PEER_NOT_TRUSTED",
    )  # fmt: skip
    assert entry["request_id"] == "req-1"
    assert entry["details"]["authorization_number"] == "SQ-2026-1"  # type: ignore[index]


async def test_a_gap_in_the_authorization_is_refused_with_its_reason(rig: Rig) -> None:
    await rig.trust.trust(REQUESTER.name, "ops-1")
    outside = dataclasses.replace(
        ASK, authorization=dataclasses.replace(ASK.authorization, signed_for=())
    )
    with pytest.raises(PermissionDenied) as caught:
        await rig.assist.answer(outside)
    assert caught.value.reason == "FEDERATION_MEMBER_NOT_SIGNATORY"
    assert rig.tax.calls == 0
    assert _bodies(rig.store)[-1]["reason"] == "FEDERATION_MEMBER_NOT_SIGNATORY"


async def test_a_covered_ask_is_answered_signed_audited_and_kept(rig: Rig) -> None:
    await rig.trust.trust(REQUESTER.name, "ops-1")
    given = await rig.assist.answer(ASK)
    [tax] = _verified(given.envelope).answer.outcomes
    assert tax.status is SourceStatus.FOUND
    actions = [(b["action"], b["outcome"]) for b in _bodies(rig.store)]
    assert actions[-3:] == [
        ("authorize", "allow"), ("access_intent", "recorded"), ("released", "released"),
    ]  # fmt: skip
    released = _bodies(rig.store)[-1]
    assert released["seq"] == given.release_seq
    assert released["details"]["envelope_sha256"] == given.envelope_sha256  # type: ignore[index]
    assert MEMBER_ID not in str(_bodies(rig.store))

    again = await rig.assist.answer(ASK)
    assert again.replayed and again.envelope == given.envelope
    assert rig.tax.calls == 1


async def test_a_reused_request_id_with_other_content_is_a_conflict(rig: Rig) -> None:
    await rig.trust.trust(REQUESTER.name, "ops-1")
    await rig.assist.answer(ASK)
    other = dataclasses.replace(ASK, window=Window(date(2026, 1, 1), date(2026, 6, 30)))
    with pytest.raises(Conflict):
        await rig.assist.answer(other)


async def test_a_peer_asking_faster_than_its_rate_is_refused_and_audited() -> None:
    store = InMemoryStore(clock=lambda: NOW)
    slow = dataclasses.replace(REQUESTER, rate_per_minute=2)
    now = [NOW]
    tax = FakeAdapter(SourceKind.TAX, income_fen={MEMBER_ID: 1})
    trust, assist = _answering(store, {SourceKind.TAX: tax}, slow, clock=lambda: now[0])
    await trust.trust(slow.name, "ops-1")
    await assist.answer(dataclasses.replace(ASK, request_id="r1"))
    await assist.answer(dataclasses.replace(ASK, request_id="r2"))
    with pytest.raises(ResourceExhausted) as caught:
        await assist.answer(dataclasses.replace(ASK, request_id="r3"))
    assert caught.value.reason == "FEDERATION_RATE_LIMITED"
    assert _bodies(store)[-1]["reason"] == "FEDERATION_RATE_LIMITED"
    assert tax.calls == 2
    now[0] += timedelta(seconds=30)  # half a minute: one more
    await assist.answer(dataclasses.replace(ASK, request_id="r3"))
    assert tax.calls == 3


@pytest.mark.parametrize(
    ("ask", "reason"),
    [
        (dataclasses.replace(ASK, sources=()), "FEDERATION_SOURCE_NOT_AGREED"),
        (dataclasses.replace(ASK, purposes=()), "FEDERATION_PURPOSE_NOT_AGREED"),
    ],
)
async def test_an_ask_naming_no_source_or_no_purpose_is_refused_and_asks_nothing(
    ask: FederationAsk, reason: str
) -> None:
    # The agreement allows only TAX; a source configured here beyond it must not be asked
    # when the ask names none (an empty list is never "every source").
    store = InMemoryStore(clock=lambda: NOW)
    tax = FakeAdapter(SourceKind.TAX, income_fen={MEMBER_ID: 1})
    social = FakeAdapter(SourceKind.SOCIAL_INSURANCE, income_fen={MEMBER_ID: 1})
    trust, assist = _answering(store, {SourceKind.TAX: tax, SourceKind.SOCIAL_INSURANCE: social})
    await trust.trust(REQUESTER.name, "ops-1")
    with pytest.raises(PermissionDenied) as caught:
        await assist.answer(ask)
    assert caught.value.reason == reason
    assert (tax.calls, social.calls) == (0, 0)
    last = _bodies(store)[-1]
    assert (last["action"], last["outcome"], last["reason"]) == ("authorize", "deny", reason)
    assert not store.tables.answers


async def test_a_retry_is_audited_as_a_replayed_release_of_the_kept_answer(rig: Rig) -> None:
    await rig.trust.trust(REQUESTER.name, "ops-1")
    given = await rig.assist.answer(ASK)
    before = len(_bodies(rig.store))
    again = await rig.assist.answer(ASK)
    assert again.replayed and again.envelope == given.envelope
    [replay] = _bodies(rig.store)[before:]
    assert (replay["action"], replay["outcome"], replay["request_id"]) == (
        "released", "released", "req-1",
    )  # fmt: skip
    details = replay["details"]
    assert isinstance(details, dict)
    assert details["replayed"] is True
    assert details["release_seq"] == given.release_seq
    assert details["envelope_sha256"] == given.envelope_sha256
    assert rig.tax.calls == 1


async def test_two_simultaneous_asks_with_one_request_id_get_one_answer_both_audited() -> None:
    store = InMemoryStore(clock=lambda: NOW)
    tax = GatedAdapter(SourceKind.TAX, income_fen={MEMBER_ID: 250_000})
    trust, assist = _answering(store, {SourceKind.TAX: tax})
    await trust.trust(REQUESTER.name, "ops-1")
    tax.hold()
    first = asyncio.create_task(assist.answer(ASK))
    second = asyncio.create_task(assist.answer(ASK))
    await tax.arrived.wait()  # both missed the kept answer and asked the source
    tax.gate.set()
    a, b = await asyncio.gather(first, second)
    assert a.envelope == b.envelope and a.release_seq == b.release_seq
    assert sorted([a.replayed, b.replayed]) == [False, True]
    assert tax.calls == 2
    released = [e for e in _bodies(store) if e["action"] == "released"]
    flags: list[object] = []
    for entry in released:
        details = entry["details"]
        assert isinstance(details, dict)
        flags.append(details.get("replayed", False))
    assert flags == [False, True]
    assert released[0]["seq"] == a.release_seq


async def test_a_fragment_carries_codes_not_the_sources_words(rig: Rig) -> None:
    """A source's failure message (an adapter's exception text) is not sent to the
    requester: the fragment's reason is SOURCE_FAILED."""
    await rig.trust.trust(REQUESTER.name, "ops-1")
    rig.tax.fail_with = PermanentSourceError("网关错误 <b>bad</b> at 10.0.0.1")
    given = await rig.assist.answer(ASK)
    [tax] = _verified(given.envelope).answer.outcomes
    assert (tax.status, tax.reason) == (SourceStatus.FAILED, "SOURCE_FAILED")
    payload = base64.b64decode(json.loads(given.envelope)["payload"]).decode()
    assert "网关错误" not in payload and "10.0.0.1" not in payload


async def test_an_ask_for_a_region_not_served_here_is_refused_and_audited(rig: Rig) -> None:
    """The requester says its members' 户籍 is in 370322, which is not this deployment's:
    refused before any source, audited with the reason."""
    await rig.trust.trust(REQUESTER.name, "ops-1")
    elsewhere = dataclasses.replace(ASK, region="370322")
    with pytest.raises(PermissionDenied) as caught:
        await rig.assist.answer(elsewhere)
    assert caught.value.reason == "FEDERATION_REGION_NOT_SERVED"
    assert rig.tax.calls == 0
    last = _bodies(rig.store)[-1]
    assert (last["action"], last["outcome"], last["reason"]) == (
        "authorize", "deny", "FEDERATION_REGION_NOT_SERVED",
    )  # fmt: skip


async def test_the_authorizations_validity_is_judged_on_the_day_in_china() -> None:
    """At 01:00 on 1 December in China (still 30 November in UTC) a 授权书 valid from
    1 December is in force, and one valid until 30 November no longer is."""
    rig = _rig(datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    await rig.trust.trust(REQUESTER.name, "ops-1")
    auth = ASK.authorization
    starting = dataclasses.replace(ASK, authorization=dataclasses.replace(
        auth, valid_from=date(2026, 12, 1)))  # fmt: skip
    assert not (await rig.assist.answer(starting)).replayed
    ended = dataclasses.replace(ASK, request_id="req-2", authorization=dataclasses.replace(
        auth, valid_until=date(2026, 11, 30)))  # fmt: skip
    with pytest.raises(PermissionDenied) as caught:
        await rig.assist.answer(ended)
    assert caught.value.reason == "FEDERATION_AUTHORIZATION_NOT_VALID"
