"""Verifications on SQLAlchemy: the row, its sealed request, its state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.ext.asyncio import AsyncSession

from verifier.domain.household import VerificationRequest, request_from_json, request_to_json
from verifier.domain.outcomes import Completeness, VerificationState
from verifier.domain.ports import VerificationRecord, VerificationRepository
from verifier.domain.ports.terms import CheckOrigin
from verifier.storage.guard import guard
from verifier.storage.insert_new import insert_row
from verifier.storage.models import VerificationRow
from verifier.storage.models_batches import VerificationTermsRow
from verifier.storage.sealing import Sealer

_V = VerificationRow
RECORD_COLUMNS = (
    _V.id,
    _V.caller_system,
    _V.caller_user,
    _V.request_id,
    _V.request_digest,
    _V.case_id,
    _V.region,
    _V.state,
    _V.completeness,
    _V.latest_version,
    _V.created_at,
    _V.member_count,
    _V.source_count,
    _V.caller_role,
    _V.caller_region,
)
"""What a :class:`VerificationRecord` is made of: read alone, a record costs neither the
sealed request (kilobytes) nor an ORM object kept in the session."""


def verification_record(row: VerificationRow | Row[*tuple[Any, ...]]) -> VerificationRecord:
    """A verification row (or a row of :data:`RECORD_COLUMNS`) as the domain's record
    (shared with the terms queries)."""
    return VerificationRecord(
        id=row.id,
        caller_system=row.caller_system,
        caller_user=row.caller_user,
        request_id=row.request_id,
        request_digest=row.request_digest,
        case_id=row.case_id,
        region=row.region,
        state=VerificationState(row.state),
        completeness=Completeness(row.completeness) if row.completeness else None,
        latest_version=row.latest_version,
        created_at=row.created_at,
        member_count=row.member_count,
        source_count=row.source_count,
        caller_role=row.caller_role,
        caller_region=row.caller_region,
    )


class SqlVerifications(VerificationRepository):
    def __init__(self, session: AsyncSession, sealer: Sealer) -> None:
        self._session = session
        self._sealer = sealer

    async def add(
        self,
        record: VerificationRecord,
        request: VerificationRequest,
        authorization_id: str,
        *,
        run_lease: tuple[str, datetime],
    ) -> None:
        plain = json.dumps(request_to_json(request), ensure_ascii=False).encode()
        sealed, kid = self._sealer.seal(plain, f"verifications/{record.id}")
        owner, until = run_lease
        async with guard():
            # A Core INSERT: nothing in this unit reads the row back, and the ORM's flush
            # costs more than the statement itself on the request path.
            await insert_row(
                self._session,
                VerificationRow,
                {
                    "id": record.id,
                    "caller_system": record.caller_system,
                    "caller_user": record.caller_user,
                    "caller_role": record.caller_role,
                    "caller_region": record.caller_region,
                    "request_id": record.request_id,
                    "request_digest": record.request_digest,
                    "case_id": record.case_id,
                    "authorization_id": authorization_id,
                    "region": record.region,
                    "purposes": ",".join(p.value for p in request.purposes),
                    "member_count": record.member_count,
                    "source_count": record.source_count,
                    "state": record.state.value,
                    "completeness": "",
                    "latest_version": 0,
                    "created_at": record.created_at,
                    "updated_at": record.created_at,
                    "request_sealed": sealed,
                    "request_key_id": kid,
                    "run_owner": owner,
                    "run_lease_until": until,
                },
            )

    async def get(self, verification_id: str) -> VerificationRecord | None:
        q = select(*RECORD_COLUMNS).where(VerificationRow.id == verification_id)
        async with guard():
            row = (await self._session.execute(q)).one_or_none()
        return verification_record(row) if row else None

    async def lock(self, verification_id: str) -> VerificationRecord | None:
        q = select(*RECORD_COLUMNS).where(VerificationRow.id == verification_id).with_for_update()
        async with guard():
            row = (await self._session.execute(q)).one_or_none()
        return verification_record(row) if row else None

    async def latest_versions(self, verification_ids: Sequence[str]) -> dict[str, int]:
        q = select(VerificationRow.id, VerificationRow.latest_version).where(
            VerificationRow.id.in_(list(dict.fromkeys(verification_ids)))
        )
        async with guard():
            return {r.id: r.latest_version for r in await self._session.execute(q)}

    async def find_by_request(
        self, caller_system: str, request_id: str
    ) -> VerificationRecord | None:
        async with guard():
            row = (
                await self._session.execute(
                    select(*RECORD_COLUMNS).where(
                        VerificationRow.caller_system == caller_system,
                        VerificationRow.request_id == request_id,
                    )
                )
            ).one_or_none()
        return verification_record(row) if row else None

    async def count_since(self, caller_system: str, caller_user: str, since: datetime) -> int:
        async with guard():
            n = await self._session.execute(
                select(func.count())
                .select_from(VerificationRow)
                .outerjoin(
                    VerificationTermsRow,
                    VerificationTermsRow.verification_id == VerificationRow.id,
                )
                .where(
                    VerificationRow.caller_system == caller_system,
                    VerificationRow.caller_user == caller_user,
                    VerificationRow.created_at >= since,
                    # A check from before terms were kept counts as interactive.
                    or_(
                        VerificationTermsRow.origin.is_(None),
                        VerificationTermsRow.origin == CheckOrigin.INTERACTIVE.value,
                    ),
                )
            )
            return int(n.scalar_one())

    async def load_request(self, verification_id: str) -> VerificationRequest:
        q = select(VerificationRow.request_sealed, VerificationRow.request_key_id).where(
            VerificationRow.id == verification_id
        )
        async with guard():
            row = (await self._session.execute(q)).one_or_none()
        if row is None or row.request_sealed is None:
            # A purged request is gone as if it never was: nothing can ask with it again.
            raise KeyError(verification_id)
        aad = f"verifications/{verification_id}"
        plain = self._sealer.open(row.request_sealed, row.request_key_id, aad)
        return request_from_json(json.loads(plain))

    async def set_state(
        self,
        verification_id: str,
        state: VerificationState,
        completeness: Completeness | None,
        latest_version: int,
        now: datetime,
    ) -> None:
        async with guard():
            result = await self._session.execute(
                update(VerificationRow)
                .where(VerificationRow.id == verification_id)
                .values(
                    state=state.value,
                    completeness=completeness.value if completeness else "",
                    latest_version=latest_version,
                    updated_at=now,
                )
            )
        if cast(CursorResult[Any], result).rowcount == 0:
            raise KeyError(verification_id)
