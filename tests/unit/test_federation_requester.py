"""The requester's side of a check's 协查: each routed ask carries only its members, its
sources and the 授权书 (``signed_for`` by identity, within the ask); the peer's answer comes
back in the check's member indices, naming the peer and the fragment; what the requester
itself will not send is DENIED, a peer that does not answer is FAILED and asked again
under the same request id before the agreement's deadline."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import SourceKind
from tests.consents import consent_draft
from tests.fakes import InMemoryStore
from tests.fakes.peer_client import SigningPeer
from tests.federation_helpers import spouse_at_peer
from tests.helpers import APPLICANT_ID, CHILD_ID, SPOUSE_ID, household_draft
from verifier.config.errors import ConfigError
from verifier.domain.consent import ConsentDoc, ConsentState, validate_consent
from verifier.domain.errors import FailedPrecondition, Unavailable
from verifier.domain.federation_ask import FederationAsk
from verifier.domain.federation_routing import RemoteAsk
from verifier.domain.household import Relation, VerificationRequest
from verifier.domain.outcomes import SourceStatus
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.ports.federation_retries import PeerRetry
from verifier.domain.ports.peer_client import PeerClient, PeerReply
from verifier.domain.request_model import Purpose
from verifier.domain.request_validation import validate_request
from verifier.domain.time_limits import CHINA
from verifier.service.federation.outbound import OutboundAssist
from verifier.service.federation.peers import PeerTrustService
from verifier.service.federation.requester import (
    AUTHORIZATION_UNAVAILABLE,
    FederationRequester,
    RemoteAnswers,
    ask_request_id,
)
from verifier.signing.jwks import PublicKey, key_id

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
TODAY = NOW.date()
PEER = "hedui-linzi"
REQUESTER = "hedui-gaoqing"
KEY = Ed25519PrivateKey.generate()
KID = key_id(KEY.public_key())


def _published(_peer: PeerConfig) -> Mapping[str, PublicKey]:
    return {KID: KEY.public_key()}


def FakePeer(behaviour: str = "answer") -> SigningPeer:
    return SigningPeer(KEY, peer=PEER, requester=REQUESTER, behaviour=behaviour)


def _federation() -> FederationConfig:
    return FederationConfig(
        peers={PEER: PeerConfig(
            name=PEER, regions=("370305",), endpoint="127.0.0.1:1", ca=Path("ca.pem"),
            jwks=Path("jwks.json"), key_ids=(KID,), purposes=(Purpose.DIBAO, Purpose.LINSHI),
            sources=(), remote_sources=(SourceKind.REAL_ESTATE,), deadline_working_days=3,
            asks_sources=(SourceKind.TAX,),
        )}
    )  # fmt: skip


async def _requester(
    client: PeerClient,
    keys: Callable[[PeerConfig], Mapping[str, PublicKey]] = _published,
    now: datetime = NOW,
) -> tuple[FederationRequester, InMemoryStore]:
    """A requester asking through ``client`` at ``now``; ``keys``: what the peer
    publishes once it was trusted."""
    store = InMemoryStore(clock=lambda: now)
    fed = _federation()
    await PeerTrustService(store, fed, _published).trust(PEER, "ops")
    trust = PeerTrustService(store, fed, keys)
    outbound = OutboundAssist(
        store, trust, client, name=REQUESTER, pseudonym_key=b"k" * 32, clock=lambda: now
    )
    return FederationRequester(store, outbound, fed, clock=lambda: now), store


def _request() -> VerificationRequest:
    """The applicant lives here (370322); the spouse's and the child's 户籍 are at the
    peer."""
    return validate_request(spouse_at_peer(child=True), today=TODAY)


def _consent(with_child: bool = True) -> ConsentDoc:
    """Everyone listed signs for themself; the 授权书 lists its subjects in another order
    than the request (signed_for is by identity, not position). Without ``with_child``
    the child is not covered."""
    people = [(SPOUSE_ID, Relation.SPOUSE), (APPLICANT_ID, Relation.APPLICANT)]
    if with_child:
        people.insert(0, (CHILD_ID, Relation.CHILD))
    return validate_consent(
        consent_draft("SQ-2026-001", people, sources=(SourceKind.TAX,)), today=TODAY
    )


async def _register(store: InMemoryStore, consent: ConsentDoc) -> None:
    """Register ``consent`` in the requester's 授权书 registry."""
    async with store.unit_of_work(write=True) as uow:
        await uow.consents.add(consent, "ref", (), NOW)
        await uow.commit()


async def _ask_tax(requester: FederationRequester) -> RemoteAnswers:
    """The asks of the household's check (vid-1) about tax, 5 s to answer."""
    request = _request()
    routing = requester.routing(request, (SourceKind.TAX,))
    return await requester.ask_all("vid-1", request, routing, time.monotonic() + 5)


async def test_an_ask_carries_its_members_sources_and_signed_for_by_identity() -> None:
    peer = FakePeer()
    requester, _ = await _requester(peer)
    request = _request()
    routing = requester.routing(request, (SourceKind.TAX,))
    assert routing.local == ((0, SourceKind.TAX),)
    [remote] = routing.remote
    assert remote == RemoteAsk(PEER, (1, 2), (SourceKind.TAX,))
    rid = ask_request_id("vid-1", remote)
    answer = await requester.ask(request, _consent(), remote, rid, time.monotonic() + 5)
    [sent] = peer.asks
    assert [m.id_number for m in sent.members] == [SPOUSE_ID, CHILD_ID]
    assert sent.authorization.signed_for == (0, 1)
    assert sent.sources == (SourceKind.TAX,) and sent.region == "370305"
    assert (sent.requester, sent.request_id) == (REQUESTER, rid)
    assert sent.purposes == request.purposes
    assert answer.fragment is not None and not answer.again
    sha = hashlib.sha256(answer.fragment.envelope).hexdigest()
    assert answer.fragment.envelope_sha256 == sha
    assert (answer.fragment.peer, answer.fragment.key_id, answer.fragment.release_seq) == (
        PEER, KID, 77,
    )  # fmt: skip
    assert [(o.member_index, o.status, o.deployment, o.fragment_sha256) for o in answer.outcomes] == [
        (1, SourceStatus.FOUND, PEER, sha),
        (2, SourceStatus.FOUND, PEER, sha),
    ]  # fmt: skip


def test_the_request_id_is_the_same_for_the_same_ask_and_differs_otherwise() -> None:
    ask = RemoteAsk(PEER, (1, 2), (SourceKind.TAX,))
    assert ask_request_id("vid-1", ask) == ask_request_id("vid-1", ask)
    others = {
        ask_request_id("vid-2", ask),
        ask_request_id("vid-1", RemoteAsk(PEER, (1,), (SourceKind.TAX,))),
        ask_request_id("vid-1", RemoteAsk(PEER, (1, 2), (SourceKind.BANK,))),
        ask_request_id("vid-1", RemoteAsk("hedui-jixi", (1, 2), (SourceKind.TAX,))),
    }
    assert ask_request_id("vid-1", ask) not in others and len(others) == 4


async def test_an_ask_the_authorization_does_not_cover_is_denied_and_not_sent() -> None:
    peer = FakePeer()
    requester, store = await _requester(peer)
    remote = RemoteAsk(PEER, (1, 2), (SourceKind.TAX,))
    answer = await requester.ask(
        _request(), _consent(with_child=False), remote, "rid-1", time.monotonic() + 5
    )
    assert peer.asks == []
    assert [(o.member_index, o.status, o.reason, o.deployment) for o in answer.outcomes] == [
        (1, SourceStatus.DENIED, "FEDERATION_MEMBER_NOT_SIGNATORY", PEER),
        (2, SourceStatus.DENIED, "FEDERATION_MEMBER_NOT_SIGNATORY", PEER),
    ]
    assert not answer.again and answer.fragment is None
    assert store.tables.audit[-1].body["outcome"] == "refused"


async def test_a_check_whose_authorization_is_not_registered_sends_nothing() -> None:
    peer = FakePeer()
    requester, _ = await _requester(peer)
    answers = await _ask_tax(requester)
    assert peer.asks == [] and answers.retries == ()
    assert {(o.status, o.reason) for o in answers.outcomes} == {
        (SourceStatus.DENIED, AUTHORIZATION_UNAVAILABLE)
    }


@pytest.mark.parametrize(
    ("behaviour", "status", "reason", "again"),
    [
        ("down", SourceStatus.FAILED, "PEER_UNAVAILABLE", True),
        ("refuse", SourceStatus.DENIED, "FEDERATION_SOURCE_NOT_AGREED", False),
        # The peer judged the ask itself wrong: the same ask would be rejected again.
        ("reject", SourceStatus.FAILED, "PEER_REJECTED_INVALID_ARGUMENT", False),
    ],
)
async def test_a_peer_that_is_down_is_failed_and_asked_again_one_that_refuses_is_denied(
    behaviour: str, status: SourceStatus, reason: str, again: bool
) -> None:
    peer = FakePeer(behaviour)
    requester, store = await _requester(peer)
    await _register(store, _consent())
    answers = await _ask_tax(requester)
    assert [(o.member_index, o.status, o.reason) for o in answers.outcomes] == [
        (1, status, reason), (2, status, reason),
    ]  # fmt: skip
    assert answers.fragments == ()
    if not again:
        assert answers.retries == ()
        return
    [retry] = answers.retries
    assert (retry.peer, retry.members, retry.sources) == (PEER, (1, 2), (SourceKind.TAX,))
    assert retry.ask_request_id == peer.asks[0].request_id
    # Three working days after Monday 2026-11-30, to the end of that day in China.
    assert retry.deadline_at == datetime(2026, 12, 3, 23, 59, 59, 999_999, tzinfo=CHINA)
    assert retry.attempts == 1 and retry.next_at > NOW
    again_answer = await requester.ask_again(_request(), retry, time.monotonic() + 5)
    assert peer.asks[1].request_id == retry.ask_request_id
    assert again_answer.again


async def test_a_source_only_the_peer_has_is_asked_there_under_a_region_it_serves() -> None:
    peer = FakePeer()
    requester, _ = await _requester(peer)
    local_only = household_draft(sources=(SourceKind.TAX, SourceKind.REAL_ESTATE))
    request = validate_request(local_only, today=TODAY)
    routing = requester.routing(request, request.sources)
    assert routing.local == ((0, SourceKind.TAX), (1, SourceKind.TAX), (2, SourceKind.TAX))
    [remote] = routing.remote
    assert remote == RemoteAsk(PEER, (0, 1, 2), (SourceKind.REAL_ESTATE,))
    consent = validate_consent(
        consent_draft(
            "SQ-2026-001",
            [(APPLICANT_ID, Relation.APPLICANT), (SPOUSE_ID, Relation.SPOUSE),
             (CHILD_ID, Relation.CHILD)],
        ),
        today=TODAY,
    )  # fmt: skip
    ask = requester.federation_ask(request, consent, remote, "rid-1")
    # Every member's 户籍 is here (370322): the ask names the peer's own region.
    assert ask.region == "370305"
    # A 授权书 naming no source covers all: the ask's sources are stated.
    assert ask.authorization.sources == (SourceKind.REAL_ESTATE,)
    assert ask.authorization.signed_for == (0, 1, 2)


async def test_a_member_who_signed_for_themself_is_signed_for_whatever_signs_for_lists() -> None:
    """A SELF signatory covers the subject of the same identity (as the 授权书 was
    accepted), even when its ``signs_for`` lists nobody: the ask says so."""
    draft = consent_draft(
        "SQ-2026-001",
        [(SPOUSE_ID, Relation.SPOUSE), (APPLICANT_ID, Relation.APPLICANT),
         (CHILD_ID, Relation.CHILD)],
        sources=(SourceKind.TAX,),
    )  # fmt: skip
    draft = replace(draft, signatories=tuple(replace(s, signs_for=()) for s in draft.signatories))
    consent = validate_consent(draft, today=TODAY)
    requester, _ = await _requester(FakePeer())
    remote = RemoteAsk(PEER, (1, 2), (SourceKind.TAX,))
    ask = requester.federation_ask(_request(), consent, remote, "rid-1")
    assert ask.authorization.signed_for == (0, 1)


@pytest.mark.parametrize(
    ("state", "valid_until", "reason"),
    [
        (ConsentState.REVOKED, None, "CONSENT_REVOKED"),
        (ConsentState.SUPERSEDED, None, "CONSENT_REVOKED"),
        (ConsentState.EXPIRED, None, "CONSENT_EXPIRED"),
        (ConsentState.ACTIVE, date(2026, 11, 29), "CONSENT_EXPIRED"),
    ],
)
async def test_nothing_is_sent_under_a_authorization_no_longer_in_force(
    state: ConsentState, valid_until: date | None, reason: str
) -> None:
    """A 授权书 revoked, superseded or expired after the check started: its members are
    DENIED with the reason a local check gives, nothing leaves, and nothing is retried."""
    peer = FakePeer()
    requester, store = await _requester(peer)
    people = [(SPOUSE_ID, Relation.SPOUSE), (APPLICANT_ID, Relation.APPLICANT),
              (CHILD_ID, Relation.CHILD)]  # fmt: skip
    consent = validate_consent(
        consent_draft("SQ-2026-001", people, sources=(SourceKind.TAX,), valid_until=valid_until),
        today=date(2026, 11, 1),
    )
    async with store.unit_of_work(write=True) as uow:
        await uow.consents.add(consent, "ref", (), NOW)
        await uow.consents.set_state("SQ-2026-001", state)
        await uow.commit()
    request = _request()
    routing = requester.routing(request, (SourceKind.TAX,))
    answers = await requester.ask_all("vid-1", request, routing, time.monotonic() + 5)
    assert peer.asks == [] and answers.retries == () and answers.fragments == ()
    assert [(o.member_index, o.status, o.reason, o.deployment) for o in answers.outcomes] == [
        (1, SourceStatus.DENIED, reason, PEER), (2, SourceStatus.DENIED, reason, PEER),
    ]  # fmt: skip
    [remote] = routing.remote
    retry = PeerRetry("vid-1", PEER, ask_request_id("vid-1", remote), remote.members,
                      remote.sources, NOW + timedelta(days=3), NOW, 2)  # fmt: skip
    again = await requester.ask_again(request, retry, time.monotonic() + 5)
    assert peer.asks == [] and not again.again
    assert {(o.status, o.reason) for o in again.outcomes} == {(SourceStatus.DENIED, reason)}


class _BrokenClient(SigningPeer):
    """A client whose credentials cannot be read (its certificate files are gone)."""

    async def assist(self, peer: PeerConfig, ask: FederationAsk, timeout: float) -> PeerReply:
        self.asks.append(ask)
        raise FileNotFoundError(2, "No such file or directory")


def _keys_rotated(_peer: PeerConfig) -> Mapping[str, PublicKey]:
    raise FailedPrecondition("the peer's JWKS lacks 1 pinned key id(s)")


def _jwks_unreadable(_peer: PeerConfig) -> Mapping[str, PublicKey]:
    raise ConfigError("federation.peers.hedui-linzi.jwks: cannot read")


def _loader_bug(_peer: PeerConfig) -> Mapping[str, PublicKey]:
    raise RuntimeError("a bug")


@pytest.mark.parametrize(
    ("keys", "broken_client", "reason"),
    [
        (_keys_rotated, False, "PEER_KEYS_UNAVAILABLE"),
        (_jwks_unreadable, False, "FEDERATION_CONFIG_ERROR"),
        (_published, True, "FEDERATION_CONFIG_ERROR"),
        (_loader_bug, False, "FEDERATION_ASK_FAILED"),
    ],
)
async def test_an_error_on_this_side_fails_the_asked_pairs_and_asks_again(
    keys: Callable[[PeerConfig], Mapping[str, PublicKey]], broken_client: bool, reason: str
) -> None:
    """The peer's keys gone from its JWKS (rotation), its JWKS file unreadable, the
    client's certificate missing, or anything else on this side: the asked pairs are
    FAILED with the reason and asked again later; the error ends neither the check nor
    the other asks."""
    client = _BrokenClient(KEY, peer=PEER, requester=REQUESTER) if broken_client else FakePeer()
    requester, store = await _requester(client, keys)
    await _register(store, _consent())
    answers = await _ask_tax(requester)
    assert [(o.member_index, o.status, o.reason, o.deployment) for o in answers.outcomes] == [
        (1, SourceStatus.FAILED, reason, PEER), (2, SourceStatus.FAILED, reason, PEER),
    ]  # fmt: skip
    [retry] = answers.retries
    assert retry.members == (1, 2) and answers.fragments == ()


async def test_a_store_failure_while_asking_is_not_taken_for_the_peers() -> None:
    """The database (here its audit log) failing is the check's failure (the run is
    retried), not an outcome of the peer's."""
    requester, store = await _requester(FakePeer())
    await _register(store, _consent())
    store.audit_unavailable = True
    with pytest.raises(Unavailable):
        await _ask_tax(requester)


async def test_a_refused_fragment_is_failed_and_not_asked_again() -> None:
    """A fragment signed by a key the agreement does not pin: the pairs are FAILED with
    the refusal, and not asked again: the peer would only replay the same envelope under
    the same request id (and disclose the records once more)."""
    peer = SigningPeer(Ed25519PrivateKey.generate(), peer=PEER, requester=REQUESTER)
    requester, store = await _requester(peer)
    await _register(store, _consent())
    answers = await _ask_tax(requester)
    assert [(o.member_index, o.status, o.reason) for o in answers.outcomes] == [
        (1, SourceStatus.FAILED, "FRAGMENT_UNPINNED_KEY"),
        (2, SourceStatus.FAILED, "FRAGMENT_UNPINNED_KEY"),
    ]
    assert answers.retries == () and answers.fragments == ()


async def test_the_agreements_deadline_is_counted_in_working_days_of_china() -> None:
    """Asked at 01:00 on Tuesday in China (still Monday in UTC): the three working days
    count from Tuesday, to the end of Friday in China."""
    requester, _ = await _requester(FakePeer("down"))
    remote = RemoteAsk(PEER, (1, 2), (SourceKind.TAX,))
    answer = await requester.ask(_request(), _consent(), remote, "rid-1", time.monotonic() + 5)
    asked_at = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    retry = requester.first_retry("vid-1", answer, asked_at)
    assert retry.deadline_at == datetime(2026, 12, 4, 23, 59, 59, 999_999, tzinfo=CHINA)
    assert retry.deadline_at == requester.deadline_at(PEER, asked_at)


async def test_the_authorizations_validity_is_judged_on_the_day_in_china() -> None:
    """At 01:00 on 1 December in China (still 30 November in UTC) a 授权书 valid from
    1 December is in force: the ask is sent."""
    peer = FakePeer()
    requester, store = await _requester(peer, now=datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    people = [(SPOUSE_ID, Relation.SPOUSE), (APPLICANT_ID, Relation.APPLICANT),
              (CHILD_ID, Relation.CHILD)]  # fmt: skip
    consent = validate_consent(
        consent_draft("SQ-2026-001", people, sources=(SourceKind.TAX,),
                      valid_from=date(2026, 12, 1)),
        today=date(2026, 12, 1),
    )  # fmt: skip
    await _register(store, consent)
    answers = await _ask_tax(requester)
    assert len(peer.asks) == 1
    assert {o.status for o in answers.outcomes} == {SourceStatus.FOUND}
