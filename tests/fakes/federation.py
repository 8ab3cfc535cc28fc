"""In-memory federation peers' trust state and answers given to peers: the ports'
contracts without a database (``verifier/storage/peers.py``, ``answers.py``)."""

from __future__ import annotations

from tests.fakes.tables import Tables
from verifier.domain.errors import Conflict
from verifier.domain.ports.peers import AnswerRepository, PeerRepository, PeerTrust, StoredAnswer


class InMemoryPeers(PeerRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def get(self, name: str) -> PeerTrust | None:
        return self._t.peers.get(name)

    async def all(self) -> list[PeerTrust]:
        return [self._t.peers[n] for n in sorted(self._t.peers)]

    async def put(self, trust: PeerTrust) -> None:
        self._t.peers[trust.name] = trust


class InMemoryAnswers(AnswerRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def get(self, requester: str, request_id: str) -> StoredAnswer | None:
        return self._t.answers.get((requester, request_id))

    async def add(self, answer: StoredAnswer) -> None:
        key = (answer.requester, answer.request_id)
        if key in self._t.answers:
            raise Conflict("an answer to that request is kept already")
        self._t.answers[key] = answer
