"""Which deployment answers which member × source (异地协查 routing).

A member whose 户籍 is in a peer's regions is asked there, for every source of the check
the agreement lets this deployment ask the peer about (``asks_sources``); the other
sources of such a member are the peer's too, but are not sent: an ask carrying
:attr:`RemoteAsk.refusal` is DENIED here with that reason. A source that exists only at a
peer (its ``remote_sources``, say its 不动产 register) is asked there for every member;
the rest stays local. Each peer gets one 协查 per distinct
set of sources, so that no ask is wider than what that peer must answer (an ask is the
product of its members and its sources), split into 协查 of at most
:data:`~verifier.domain.federation_ask.MAX_ASK_MEMBERS` members (a household may have
more; a peer refuses a wider ask).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hedui_sdk import SourceKind
from verifier.domain.federation_ask import MAX_ASK_MEMBERS, AskRefusal
from verifier.domain.peers import FederationConfig


@dataclass(frozen=True, slots=True)
class RemoteAsk:
    """One 协查 to send: ``peer`` is asked about these members for these sources."""

    peer: str
    members: tuple[int, ...]
    """Indices into the check's members."""
    sources: tuple[SourceKind, ...]
    refusal: str = ""
    """Non-empty: this deployment may not ask the peer about these sources (the reason);
    nothing is sent, and the pairs are DENIED with it."""


@dataclass(frozen=True, slots=True)
class Routing:
    local: tuple[tuple[int, SourceKind], ...]
    """Member × source pairs this deployment's own sources answer."""
    remote: tuple[RemoteAsk, ...]

    def answered_by(self) -> dict[tuple[int, SourceKind], str]:
        """Each remote pair's peer (what the report shows as the answering deployment)."""
        return {(m, s): ask.peer for ask in self.remote for m in ask.members for s in ask.sources}


def route(
    member_regions: Sequence[str], sources: Sequence[SourceKind], federation: FederationConfig
) -> Routing:
    """The routing of a check whose members' 户籍 regions are ``member_regions`` (6-digit
    codes, in member order) and whose sources are ``sources``."""
    only_at = {
        kind: peer.name for peer in federation.peers.values() for kind in peer.remote_sources
    }
    local: list[tuple[int, SourceKind]] = []
    # (peer, refusal, member) -> sources; refusal "" for what is sent.
    wanted: dict[tuple[str, str, int], list[SourceKind]] = {}
    for i, region in enumerate(member_regions):
        home = federation.peer_for_region(region)
        for kind in sources:
            if kind in only_at:
                wanted.setdefault((only_at[kind], "", i), []).append(kind)
            elif home is None:
                local.append((i, kind))
            else:
                gap = "" if home.may_ask(kind) else AskRefusal.SOURCE_NOT_AGREED.value
                wanted.setdefault((home.name, gap, i), []).append(kind)
    grouped: dict[tuple[str, str, tuple[SourceKind, ...]], list[int]] = {}
    for (peer, gap, i), kinds in wanted.items():
        grouped.setdefault((peer, gap, tuple(kinds)), []).append(i)
    remote = tuple(
        RemoteAsk(peer, tuple(members[at : at + MAX_ASK_MEMBERS]), kinds, gap)
        for (peer, gap, kinds), members in sorted(
            grouped.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[1])
        )
        for at in range(0, len(members), MAX_ASK_MEMBERS)
    )
    return Routing(tuple(local), remote)
