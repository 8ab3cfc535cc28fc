"""Peers' fragments kept for this deployment's checks, on SQLAlchemy: the envelope sealed
(it holds members' records), by (verification id, envelope SHA-256)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.fragment import EmbeddedFragment
from verifier.domain.ports.fragments import FragmentRepository
from verifier.storage.guard import guard
from verifier.storage.insert_new import insert_new
from verifier.storage.models_federation import FederationFragmentRow
from verifier.storage.sealing import Sealer


def fragment_aad(verification_id: str, envelope_sha256: str) -> str:
    # Binds the sealed envelope to its row: copied to another check, it does not open.
    return f"federation_fragments/{verification_id}/{envelope_sha256}"


class SqlFragments(FragmentRepository):
    def __init__(self, session: AsyncSession, sealer: Sealer) -> None:
        self._s = session
        self._sealer = sealer

    async def add(self, verification_id: str, fragment: EmbeddedFragment, now: datetime) -> None:
        sealed, kid = self._sealer.seal(
            fragment.envelope, fragment_aad(verification_id, fragment.envelope_sha256)
        )
        row = {
            "verification_id": verification_id,
            "envelope_sha256": fragment.envelope_sha256,
            "peer": fragment.peer,
            "key_id": fragment.key_id,
            "release_seq": fragment.release_seq,
            "envelope_sealed": sealed,
            "seal_kid": kid,
            "created_at": now,
        }
        async with guard():
            # The same envelope is the same fragment: a release taken again keeps the first.
            await insert_new(self._s, FederationFragmentRow, row)

    async def of(self, verification_id: str) -> list[EmbeddedFragment]:
        f = FederationFragmentRow
        q = (
            select(f)
            .where(f.verification_id == verification_id, f.envelope_sealed.is_not(None))
            .order_by(f.envelope_sha256)
        )
        async with guard():
            rows = (await self._s.execute(q)).scalars().all()
        out = []
        for r in rows:
            if r.envelope_sealed is None:  # purged since the read's snapshot began
                continue
            envelope = self._sealer.open(
                r.envelope_sealed, r.seal_kid, fragment_aad(r.verification_id, r.envelope_sha256)
            )
            out.append(
                EmbeddedFragment(r.peer, r.key_id, r.envelope_sha256, r.release_seq, envelope)
            )
        return out
