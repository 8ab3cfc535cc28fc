"""Trust in federation peers: nothing is trusted by default; an operator trusts a
configured peer (pinning the key ids its agreement names, each of which its published
JWKS must hold) and may revoke it, with effect on the next call. Both are audit entries
committed with the state they change.

:meth:`PeerTrustService.trusted` is the one check every federation call makes, in both
directions: the peer must be configured, trusted, not revoked, and its agreement must
still pin the key ids that were trusted (a changed agreement is trusted again, by a
person, before it is used).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from audit.entry import Actor, EntryDraft
from verifier.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from verifier.domain.identifiers import ACTOR_SYSTEM
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.ports import Store, UnitOfWork
from verifier.domain.ports.peers import PeerState, PeerTrust
from verifier.domain.vocabulary import AuditAction, Role
from verifier.signing.jwks import PublicKey

KeyLoader = Callable[[PeerConfig], Mapping[str, PublicKey]]
"""The keys a peer publishes (its JWKS file as configured), by key id."""

OPERATOR_SYSTEM = "hedui-cli"


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """A peer as ``hedui federation peers`` lists it."""

    peer: PeerConfig | None
    """None: a peer the database knows that the configuration no longer names."""
    trust: PeerTrust | None
    name: str

    @property
    def state(self) -> str:
        if self.trust is None:
            return "not trusted"
        if self.peer is None:
            return f"{self.trust.state.value} (no longer configured)"
        if self.trust.state is PeerState.TRUSTED and self.trust.key_ids != self.peer.key_ids:
            return "trusted, keys changed since (trust again)"
        return self.trust.state.value


class PeerTrustService:
    def __init__(
        self,
        store: Store,
        federation: FederationConfig,
        published_keys: KeyLoader,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._fed = federation
        self._published = published_keys
        self._clock = clock

    def _configured(self, name: str) -> PeerConfig:
        peer = self._fed.peers.get(name)
        if peer is None:
            raise NotFound("no federation peer of that name is configured")
        return peer

    async def list(self) -> list[PeerStatus]:
        async with self._store.unit_of_work(write=False) as uow:
            known = {t.name: t for t in await uow.peers.all()}
        names = sorted({*self._fed.peers, *known})
        return [PeerStatus(self._fed.peers.get(n), known.get(n), n) for n in names]

    def pinned_keys(self, peer: PeerConfig) -> dict[str, PublicKey]:
        """The peer's published keys that its agreement pins; every pinned id must be
        published (a key the peer no longer publishes cannot be checked against)."""
        published = self._published(peer)
        missing = [kid for kid in peer.key_ids if kid not in published]
        if missing:
            raise FailedPrecondition(
                f"the peer's JWKS lacks {len(missing)} pinned key id(s): {missing[0][:16]}…"
            )
        return {kid: published[kid] for kid in peer.key_ids}

    async def _record(self, uow: UnitOfWork, trust: PeerTrust, action: AuditAction) -> None:
        actor = Actor(system=OPERATOR_SYSTEM, user=trust.changed_by, role=Role.ADMIN.value)
        details: dict[str, object] = {"peer": trust.name}
        if action is AuditAction.FEDERATION_TRUST:
            details["key_ids"] = list(trust.key_ids)
        await uow.audit.append([EntryDraft(actor, action.value, "allow", details=details)])
        await uow.peers.put(trust)

    def _operator(self, operator: str) -> str:
        problem = ACTOR_SYSTEM.problem(operator)
        if problem is not None:
            raise InvalidArgument([FieldViolation("operator", problem)])
        return operator

    async def trust(self, name: str, operator: str) -> PeerTrust:
        """Trust the configured peer ``name`` with the key ids its agreement pins."""
        peer = self._configured(name)
        self.pinned_keys(peer)
        trust = PeerTrust(
            name, PeerState.TRUSTED, peer.key_ids, self._clock(), self._operator(operator)
        )

        async def work(uow: UnitOfWork) -> None:
            await self._record(uow, trust, AuditAction.FEDERATION_TRUST)

        await self._store.write(work)
        return trust

    async def revoke(self, name: str, operator: str) -> PeerTrust:
        """End trust in ``name`` now (a peer the configuration dropped can be revoked too)."""
        by = self._operator(operator)

        async def work(uow: UnitOfWork) -> PeerTrust:
            known = await uow.peers.get(name)
            if known is None and name not in self._fed.peers:
                raise NotFound("no federation peer of that name is configured or known")
            kids = known.key_ids if known is not None else ()
            trust = PeerTrust(name, PeerState.REVOKED, kids, self._clock(), by)
            await self._record(uow, trust, AuditAction.FEDERATION_REVOKE)
            return trust

        return await self._store.write(work)

    async def trusted(self, name: str) -> PeerConfig:
        """The agreement with ``name`` if it may be worked with now; otherwise
        PermissionDenied with the reason (``PEER_NOT_CONFIGURED``, ``PEER_NOT_TRUSTED``,
        ``PEER_REVOKED``, ``PEER_KEYS_CHANGED``)."""
        peer = self._fed.peers.get(name)
        if peer is None:
            raise PermissionDenied("PEER_NOT_CONFIGURED", "the peer is not configured")
        async with self._store.unit_of_work(write=False) as uow:
            trust = await uow.peers.get(name)
        if trust is None:
            raise PermissionDenied("PEER_NOT_TRUSTED", "the peer has not been trusted")
        if trust.state is PeerState.REVOKED:
            raise PermissionDenied("PEER_REVOKED", "the peer's trust was revoked")
        if trust.key_ids != peer.key_ids:
            raise PermissionDenied(
                "PEER_KEYS_CHANGED", "the peer's pinned keys changed since it was trusted"
            )
        return peer
