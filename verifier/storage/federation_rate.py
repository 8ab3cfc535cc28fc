"""Each peer's inbound 协查 rate on SQLAlchemy: one token bucket row per peer, read and
written under a row lock (PostgreSQL) or the database's single writer (SQLite), so every
server process takes from the same bucket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.ports.federation_rate import PeerRateRepository
from verifier.storage.guard import guard
from verifier.storage.insert_new import insert_new
from verifier.storage.models_federation import FederationRateRow


def refill(tokens: float, since: datetime, now: datetime, rate_per_minute: int) -> float:
    """``tokens`` left at ``since``, refilled at the rate until ``now``, up to the
    capacity (``rate_per_minute``). Clocks of processes differ a little: a ``now`` before
    ``since`` adds nothing."""
    elapsed = max((now - since).total_seconds(), 0.0)
    return min(float(rate_per_minute), tokens + elapsed * rate_per_minute / 60.0)


class SqlPeerRate(PeerRateRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def take(self, peer: str, rate_per_minute: int, now: datetime) -> bool:
        if rate_per_minute < 1:
            return False
        r = FederationRateRow
        # Fresh from the database: a row this session read before may have changed since.
        locked = (
            select(r)
            .where(r.peer == peer)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        async with guard():
            row = (await self._s.execute(locked)).scalar_one_or_none()
            if row is None:
                # A peer's first 协查: a full bucket, less this one. Another process may
                # insert it at the same moment; then its row is taken from, locked.
                first = {"peer": peer, "tokens": rate_per_minute - 1.0, "updated_at": now}
                if await insert_new(self._s, r, first):
                    return True
                row = (await self._s.execute(locked)).scalar_one()
            tokens = refill(row.tokens, row.updated_at, now, rate_per_minute)
            row.updated_at = max(now, row.updated_at)
            taken = tokens >= 1.0
            row.tokens = tokens - 1.0 if taken else tokens
            await self._s.flush()
            return taken
