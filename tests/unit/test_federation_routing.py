"""Routing a check between deployments: a member whose 户籍 is a peer's is asked there
for every source; a peer-only source is asked there for every member; the rest stays
local; no 协查 is wider than what its peer must answer."""

from __future__ import annotations

from pathlib import Path

from hedui_sdk import SourceKind
from verifier.domain.federation_ask import MAX_ASK_MEMBERS
from verifier.domain.federation_routing import RemoteAsk, route
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.request_model import Purpose

TAX, BANK, ESTATE = SourceKind.TAX, SourceKind.BANK, SourceKind.REAL_ESTATE


def _peer(
    name: str,
    regions: tuple[str, ...],
    remote: tuple[SourceKind, ...] = (),
    asks: tuple[SourceKind, ...] = (TAX, BANK),
) -> PeerConfig:
    return PeerConfig(
        name=name, regions=regions, endpoint="127.0.0.1:1", ca=Path("ca.pem"),
        jwks=Path("jwks.json"), key_ids=("a" * 64,), purposes=(Purpose.DIBAO,), sources=(),
        remote_sources=remote, asks_sources=asks,
    )  # fmt: skip


FED = FederationConfig(
    peers={
        "hedui-linzi": _peer("hedui-linzi", ("370305",)),
        "hedui-jixi": _peer("hedui-jixi", ("341824",), remote=(ESTATE,)),
    }
)


def test_without_peers_everything_is_local() -> None:
    routing = route(["370322", "370305"], [TAX, BANK], FederationConfig())
    assert routing.local == ((0, TAX), (0, BANK), (1, TAX), (1, BANK))
    assert routing.remote == ()


def test_members_go_to_their_hukou_peer_and_peer_only_sources_to_their_peer() -> None:
    routing = route(["370322", "370305", "370305"], [TAX, ESTATE], FED)
    assert routing.local == ((0, TAX),)
    assert routing.remote == (
        RemoteAsk("hedui-jixi", (0, 1, 2), (ESTATE,)),
        RemoteAsk("hedui-linzi", (1, 2), (TAX,)),
    )
    assert routing.answered_by()[(1, TAX)] == "hedui-linzi"
    assert routing.answered_by()[(0, ESTATE)] == "hedui-jixi"


def test_each_pair_is_asked_exactly_once() -> None:
    routing = route(["341824", "370305", "370322"], [TAX, BANK, ESTATE], FED)
    pairs = list(routing.local) + [
        (m, s) for a in routing.remote for m in a.members for s in a.sources
    ]
    assert sorted(pairs) == sorted((m, s) for m in range(3) for s in (TAX, BANK, ESTATE))


def test_a_household_wider_than_an_ask_is_split_into_asks_of_at_most_twenty() -> None:
    """A household may have up to 30 members; a peer refuses an ask of more than 20."""
    routing = route(["370305"] * 23, [TAX], FED)
    assert [a.members for a in routing.remote] == [tuple(range(20)), (20, 21, 22)]
    assert all(len(a.members) <= MAX_ASK_MEMBERS for a in routing.remote)
    assert sorted(routing.answered_by()) == [(m, TAX) for m in range(23)]


def test_a_source_the_agreement_does_not_let_this_side_ask_is_denied_not_sent() -> None:
    """The member's 户籍 is at the peer, which this side may ask about tax only: the tax
    pairs are asked there; the bank pairs are the peer's, but go in an ask marked refused
    (DENIED here, nothing sent), so one unagreed source does not sink the agreed ones."""
    fed = FederationConfig(peers={"hedui-linzi": _peer("hedui-linzi", ("370305",), asks=(TAX,))})
    routing = route(["370322", "370305", "370305"], [TAX, BANK], fed)
    assert routing.local == ((0, TAX), (0, BANK))
    assert routing.remote == (
        RemoteAsk("hedui-linzi", (1, 2), (TAX,)),
        RemoteAsk("hedui-linzi", (1, 2), (BANK,), "FEDERATION_SOURCE_NOT_AGREED"),
    )
    assert routing.answered_by()[(1, BANK)] == "hedui-linzi"


def test_a_peer_agreeing_to_nothing_gets_nothing_but_its_own_sources() -> None:
    fed = FederationConfig(
        peers={"hedui-jixi": _peer("hedui-jixi", ("341824",), remote=(ESTATE,), asks=())}
    )
    routing = route(["341824"], [TAX, ESTATE], fed)
    assert routing.remote == (
        RemoteAsk("hedui-jixi", (0,), (ESTATE,)),
        RemoteAsk("hedui-jixi", (0,), (TAX,), "FEDERATION_SOURCE_NOT_AGREED"),
    )
