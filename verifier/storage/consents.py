"""The 授权书 registry on SQLAlchemy: the document sealed, subjects by keyed ref."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hedui_sdk import SourceKind
from verifier.domain.consent import (
    ConsentDoc,
    ConsentEvent,
    ConsentRecord,
    ConsentState,
    consent_doc_from_json,
    consent_doc_to_json,
)
from verifier.domain.household import Purpose
from verifier.domain.ports import ConsentRepository
from verifier.storage.guard import guard
from verifier.storage.models import ConsentEventRow, ConsentRow, ConsentSubjectRow
from verifier.storage.sealing import Sealer


class SqlConsents(ConsentRepository):
    def __init__(self, session: AsyncSession, sealer: Sealer) -> None:
        self._session = session
        self._sealer = sealer

    async def add(
        self, doc: ConsentDoc, household_ref: str, subject_refs: Sequence[str], now: datetime
    ) -> None:
        plain = json.dumps(consent_doc_to_json(doc), ensure_ascii=False).encode()
        sealed, kid = self._sealer.seal(plain, f"consents/{doc.number}")
        self._session.add(
            ConsentRow(
                number=doc.number,
                region=doc.region,
                household_ref=household_ref,
                state=ConsentState.ACTIVE.value,
                sources=",".join(k.value for k in doc.sources),
                purposes=",".join(p.value for p in doc.purposes),
                valid_from=doc.valid_from,
                valid_until=doc.valid_until,
                evidence_sha256=doc.evidence_sha256,
                superseded_by="",
                registered_at=now,
                sealed=sealed,
                key_id=kid,
            )
        )
        async with guard():
            await self._session.flush()
            await self._session.execute(
                insert(ConsentSubjectRow),
                [{"number": doc.number, "subject_ref": r} for r in sorted(set(subject_refs))],
            )

    async def get(self, number: str) -> ConsentRecord | None:
        # One round trip for the row and its subjects, without the sealed document (a
        # check's authorization reads this; the document is opened only to be shown).
        c = ConsentRow
        q = (
            select(
                c.number,
                c.region,
                c.household_ref,
                c.sources,
                c.purposes,
                c.valid_from,
                c.valid_until,
                c.state,
                c.superseded_by,
                ConsentSubjectRow.subject_ref,
            )
            .outerjoin(ConsentSubjectRow, ConsentSubjectRow.number == c.number)
            .where(c.number == number)
        )
        async with guard():
            rows = (await self._session.execute(q)).all()
        if not rows:
            return None
        row = rows[0]
        return ConsentRecord(
            number=row.number,
            region=row.region,
            household_ref=row.household_ref,
            subject_refs=frozenset(r.subject_ref for r in rows if r.subject_ref is not None),
            sources=frozenset(SourceKind(k) for k in row.sources.split(",") if k),
            purposes=frozenset(Purpose(p) for p in row.purposes.split(",") if p),
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            state=ConsentState(row.state),
            superseded_by=row.superseded_by,
        )

    async def load_doc(self, number: str) -> ConsentDoc:
        async with guard():
            row = await self._session.get(ConsentRow, number)
        if row is None:
            raise KeyError(number)
        plain = self._sealer.open(row.sealed, row.key_id, f"consents/{number}")
        return consent_doc_from_json(json.loads(plain))

    async def events(self, number: str) -> list[ConsentEvent]:
        async with guard():
            rows = (
                await self._session.execute(
                    select(ConsentEventRow)
                    .where(ConsentEventRow.number == number)
                    .order_by(ConsentEventRow.id)
                )
            ).scalars()
            return [
                ConsentEvent(r.at, r.event, r.actor_system, r.actor_user, r.detail) for r in rows
            ]

    async def add_event(self, number: str, event: ConsentEvent) -> None:
        self._session.add(
            ConsentEventRow(
                number=number,
                at=event.at,
                event=event.event,
                actor_system=event.actor_system,
                actor_user=event.actor_user,
                detail=event.detail,
            )
        )
        async with guard():
            await self._session.flush()

    async def set_state(self, number: str, state: ConsentState, superseded_by: str = "") -> None:
        async with guard():
            await self._session.execute(
                update(ConsentRow)
                .where(ConsentRow.number == number)
                .values(state=state.value, superseded_by=superseded_by)
            )

    async def naming(self, subject_ref: str) -> list[ConsentRecord]:
        async with guard():
            numbers = (
                await self._session.execute(
                    select(ConsentSubjectRow.number)
                    .where(ConsentSubjectRow.subject_ref == subject_ref)
                    .order_by(ConsentSubjectRow.number)
                )
            ).scalars()
            found = [await self.get(n) for n in list(numbers)]
        return [c for c in found if c is not None]

    async def active(self, region: str, household_ref: str) -> list[str]:
        async with guard():
            return list(
                (
                    await self._session.execute(
                        select(ConsentRow.number)
                        .where(
                            ConsentRow.region == region,
                            ConsentRow.household_ref == household_ref,
                            ConsentRow.state == ConsentState.ACTIVE.value,
                        )
                        .with_for_update()
                    )
                ).scalars()
            )
