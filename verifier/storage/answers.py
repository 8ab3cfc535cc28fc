"""Federation answers on SQLAlchemy: the fragment given to a peer, sealed (its records
are personal data), by (requester, request id)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.ports.peers import AnswerRepository, StoredAnswer
from verifier.storage.guard import guard
from verifier.storage.models_federation import FederationAnswerRow
from verifier.storage.sealing import Sealer


def answer_aad(requester: str, request_id: str) -> str:
    # Binds the sealed envelope to its row: moved to another request, it does not open.
    return f"federation_answer:{requester}:{request_id}"


class SqlAnswers(AnswerRepository):
    def __init__(self, session: AsyncSession, sealer: Sealer) -> None:
        self._s = session
        self._sealer = sealer

    async def get(self, requester: str, request_id: str) -> StoredAnswer | None:
        async with guard():
            row = await self._s.get(FederationAnswerRow, (requester, request_id))
        if row is None:
            return None
        aad = answer_aad(requester, request_id)
        envelope = self._sealer.open(row.envelope_sealed, row.seal_kid, aad)
        return StoredAnswer(
            row.requester, row.request_id, row.request_digest, envelope, row.release_seq,
            row.created_at,
        )  # fmt: skip

    async def add(self, answer: StoredAnswer) -> None:
        aad = answer_aad(answer.requester, answer.request_id)
        sealed, kid = self._sealer.seal(answer.envelope, aad)
        async with guard():
            self._s.add(
                FederationAnswerRow(
                    requester=answer.requester, request_id=answer.request_id,
                    request_digest=answer.request_digest, envelope_sealed=sealed, seal_kid=kid,
                    release_seq=answer.release_seq, created_at=answer.created_at,
                )
            )  # fmt: skip
            await self._s.flush()
