"""Federation peers' trust state on SQLAlchemy."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.ports.peers import PeerRepository, PeerState, PeerTrust
from verifier.storage.guard import guard
from verifier.storage.models_federation import FederationPeerRow


def _trust(row: FederationPeerRow) -> PeerTrust:
    return PeerTrust(
        name=row.name,
        state=PeerState(row.state),
        key_ids=tuple(row.key_ids.split()),
        changed_at=row.changed_at,
        changed_by=row.changed_by,
    )


class SqlPeers(PeerRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, name: str) -> PeerTrust | None:
        async with guard():
            row = await self._s.get(FederationPeerRow, name)
        return None if row is None else _trust(row)

    async def all(self) -> list[PeerTrust]:
        async with guard():
            rows = await self._s.scalars(select(FederationPeerRow).order_by(FederationPeerRow.name))
        return [_trust(r) for r in rows]

    async def put(self, trust: PeerTrust) -> None:
        async with guard():
            row = await self._s.get(FederationPeerRow, trust.name)
            if row is None:
                row = FederationPeerRow(name=trust.name)
                self._s.add(row)
            row.state = trust.state.value
            row.key_ids = " ".join(trust.key_ids)
            row.changed_at = trust.changed_at
            row.changed_by = trust.changed_by
            await self._s.flush()
