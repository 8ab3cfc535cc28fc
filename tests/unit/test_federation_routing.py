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


def _peer(name: str, regions: tuple[str, ...], remote: tuple[SourceKind, ...] = ()) -> PeerConfig:
    return PeerConfig(
        name=name, regions=regions, endpoint="127.0.0.1:1", ca=Path("ca.pem"),
        jwks=Path("jwks.json"), key_ids=("a" * 64,), purposes=(Purpose.DIBAO,), sources=(),
        remote_sources=remote,
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
