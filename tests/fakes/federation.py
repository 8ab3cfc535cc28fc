"""In-memory federation peers' trust state, answers given to peers, fragments peers gave,
retries of asks to peers and the peers' rate buckets: the ports' contracts without a
database (``verifier/storage/peers.py``, ``answers.py``, ``fragments.py``,
``federation_retries.py``, ``federation_rate.py``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from tests.fakes.tables import FragmentRow, RetryKey, RetryRow, Tables
from verifier.domain.errors import Conflict
from verifier.domain.fragment import EmbeddedFragment
from verifier.domain.ports.federation_rate import PeerRateRepository
from verifier.domain.ports.federation_retries import FederationRetryRepository, PeerRetry
from verifier.domain.ports.fragments import FragmentRepository
from verifier.domain.ports.peers import AnswerRepository, PeerRepository, PeerTrust, StoredAnswer
from verifier.storage.federation_rate import refill


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


class InMemoryFragments(FragmentRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, verification_id: str, fragment: EmbeddedFragment, now: datetime) -> None:
        self._t.fragments.setdefault(
            (verification_id, fragment.envelope_sha256), FragmentRow(fragment, now)
        )

    async def of(self, verification_id: str) -> list[EmbeddedFragment]:
        return [
            row.fragment
            for (vid, _), row in sorted(self._t.fragments.items())
            if vid == verification_id and not row.purged
        ]


class InMemoryFederationRetries(FederationRetryRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    @staticmethod
    def _key(retry: PeerRetry) -> RetryKey:
        return (retry.verification_id, retry.peer, retry.ask_request_id)

    @staticmethod
    def _due(row: RetryRow, now: datetime) -> bool:
        return row.retry.next_at <= now and (row.lease_until is None or row.lease_until < now)

    async def schedule(self, retry: PeerRetry) -> None:
        # A kept retry stands (its deadline, attempts and lease), as on SQL.
        self._t.federation_retries.setdefault(self._key(retry), RetryRow(retry))

    async def claim_due(
        self, now: datetime, owner: str, lease: timedelta, limit: int
    ) -> list[PeerRetry]:
        due = sorted(
            (row for row in self._t.federation_retries.values() if self._due(row, now)),
            key=lambda row: (row.retry.next_at, self._key(row.retry)),
        )[:limit]
        for row in due:
            self._t.federation_retries[self._key(row.retry)] = replace(
                row, lease_owner=owner, lease_until=now + lease
            )
        return [row.retry for row in due]

    async def reschedule(
        self,
        verification_id: str,
        peer: str,
        ask_request_id: str,
        next_at: datetime,
        attempts: int,
        owner: str,
    ) -> bool:
        key = (verification_id, peer, ask_request_id)
        row = self._t.federation_retries.get(key)
        if row is None or row.lease_owner != owner:
            return False
        retry = replace(row.retry, next_at=next_at, attempts=attempts)
        self._t.federation_retries[key] = RetryRow(retry)
        return True

    async def finish(
        self, verification_id: str, peer: str, ask_request_id: str, owner: str | None = None
    ) -> bool:
        key = (verification_id, peer, ask_request_id)
        row = self._t.federation_retries.get(key)
        if row is None or (owner is not None and row.lease_owner != owner):
            return False
        del self._t.federation_retries[key]
        return True

    async def holds(self, verification_id: str, peer: str, ask_request_id: str, owner: str) -> bool:
        row = self._t.federation_retries.get((verification_id, peer, ask_request_id))
        return row is not None and row.lease_owner == owner

    async def pending(self, verification_id: str) -> bool:
        return any(vid == verification_id for vid, _, _ in self._t.federation_retries)

    async def has_due(self, now: datetime) -> bool:
        return any(self._due(row, now) for row in self._t.federation_retries.values())


class InMemoryPeerRate(PeerRateRepository):
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def take(self, peer: str, rate_per_minute: int, now: datetime) -> bool:
        if rate_per_minute < 1:
            return False
        tokens, at = self._t.federation_rate.get(peer, (float(rate_per_minute), now))
        tokens = refill(tokens, at, now, rate_per_minute)
        taken = tokens >= 1.0
        self._t.federation_rate[peer] = (tokens - 1.0 if taken else tokens, max(now, at))
        return taken
