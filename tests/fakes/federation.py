"""In-memory federation peers' trust state: the port's contract without a database
(``verifier/storage/peers.py``)."""

from __future__ import annotations

from tests.fakes.tables import Tables
from verifier.domain.ports.peers import PeerRepository, PeerTrust


class InMemoryPeers(PeerRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def get(self, name: str) -> PeerTrust | None:
        return self._t.peers.get(name)

    async def all(self) -> list[PeerTrust]:
        return [self._t.peers[n] for n in sorted(self._t.peers)]

    async def put(self, trust: PeerTrust) -> None:
        self._t.peers[trust.name] = trust
