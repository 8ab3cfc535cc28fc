"""Member × source outcomes on SQLAlchemy: records and tickets sealed, polls scheduled."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only

from hedui_sdk import Record, SourceKind
from verifier.domain.outcomes import SourceOutcome, SourceStatus, next_poll_at
from verifier.domain.ports import OutcomeRepository, OutcomeSummary
from verifier.domain.records_codec import records_from_json, records_to_json
from verifier.domain.report import progress_of
from verifier.storage.guard import guard
from verifier.storage.models import ReportRow, SourceOutcomeRow
from verifier.storage.reports import read_summary
from verifier.storage.sealing import Sealer

_OUTCOME_KEY = frozenset({"verification_id", "member_index", "source"})


def outcome_of(row: SourceOutcomeRow, sealer: Sealer) -> SourceOutcome:
    """The outcome a row holds, its records and ticket unsealed."""
    records: tuple[Record, ...] = ()
    if row.records_sealed is not None:
        aad = f"source_outcomes/{row.verification_id}/{row.member_index}/{row.source}"
        records = records_from_json(
            json.loads(sealer.open(row.records_sealed, row.records_key_id, aad))
        )
    ticket = None
    if row.ticket_sealed is not None:
        aad = f"tickets/{row.verification_id}/{row.member_index}/{row.source}"
        ticket = sealer.open(row.ticket_sealed, row.records_key_id, aad).decode()
    return SourceOutcome(
        member_index=row.member_index,
        source=SourceKind(row.source),
        status=SourceStatus(row.status),
        adapter=row.adapter,
        adapter_version=row.adapter_version,
        as_of=row.as_of,
        records=records,
        reason=row.reason,
        attempts=row.attempts,
        ticket=ticket,
        due_at=row.due_at,
        reused=row.reused,
        fetched_at=row.fetched_at,
        overdue_flagged=row.overdue_flagged,
        deployment=row.deployment,
        fragment_sha256=row.fragment_sha256,
    )


class SqlOutcomes(OutcomeRepository):
    def __init__(self, session: AsyncSession, sealer: Sealer) -> None:
        self._session = session
        self._sealer = sealer

    def _values(self, vid: str, o: SourceOutcome, now: datetime) -> dict[str, object]:
        plain = json.dumps(records_to_json(o.records), ensure_ascii=False).encode()
        source = o.source.value
        sealed, kid = self._sealer.seal(plain, f"source_outcomes/{vid}/{o.member_index}/{source}")
        ticket_sealed, poll_at = None, None
        if o.status is SourceStatus.PENDING and o.ticket:
            aad = f"tickets/{vid}/{o.member_index}/{source}"
            ticket_sealed, _ = self._sealer.seal(o.ticket.encode(), aad)
            poll_at = next_poll_at(now, o.retry_after, o.due_at, o.overdue_flagged)
        return {
            "verification_id": vid,
            "member_index": o.member_index,
            "source": source,
            "status": o.status.value,
            "adapter": o.adapter,
            "adapter_version": o.adapter_version,
            "reason": o.reason,
            "attempts": o.attempts,
            "as_of": o.as_of,
            "record_count": len(o.records),
            "updated_at": now,
            "records_sealed": sealed,
            "records_key_id": kid,
            "ticket_sealed": ticket_sealed,
            "reused": o.reused,
            "fetched_at": o.fetched_at,
            "due_at": o.due_at,
            "overdue_flagged": o.overdue_flagged,
            "next_poll_at": poll_at,
            "lease_owner": None,
            "lease_until": None,
            "deployment": o.deployment,
            "fragment_sha256": o.fragment_sha256,
        }

    async def store(
        self,
        verification_id: str,
        outcomes: Sequence[SourceOutcome],
        now: datetime,
        *,
        stored: Collection[tuple[int, str]] | None = None,
    ) -> None:
        if not outcomes:
            return
        async with guard():
            existing = (
                set(stored)
                if stored is not None
                else {
                    (m, s)
                    for m, s in await self._session.execute(
                        select(SourceOutcomeRow.member_index, SourceOutcomeRow.source).where(
                            SourceOutcomeRow.verification_id == verification_id
                        )
                    )
                }
            )
            values = [self._values(verification_id, o, now) for o in outcomes]
            new = [v for v in values if (v["member_index"], v["source"]) not in existing]
            changed = [v for v in values if (v["member_index"], v["source"]) in existing]
            if new:
                # One multi-row INSERT: a first report stores every member × source at once.
                await self._session.execute(insert(SourceOutcomeRow), new)
            for v in changed:
                await self._session.execute(
                    update(SourceOutcomeRow)
                    .where(
                        SourceOutcomeRow.verification_id == verification_id,
                        SourceOutcomeRow.member_index == v["member_index"],
                        SourceOutcomeRow.source == v["source"],
                    )
                    .values({k: val for k, val in v.items() if k not in _OUTCOME_KEY})
                )

    async def load(self, verification_id: str) -> list[SourceOutcome]:
        async with guard():
            rows = (
                await self._session.execute(
                    select(SourceOutcomeRow)
                    .where(SourceOutcomeRow.verification_id == verification_id)
                    .order_by(SourceOutcomeRow.member_index, SourceOutcomeRow.source)
                )
            ).scalars()
            return [outcome_of(r, self._sealer) for r in rows]

    async def summaries(self, verification_id: str) -> list[OutcomeSummary]:
        async with guard():
            rows = (
                await self._session.execute(
                    select(SourceOutcomeRow)
                    .where(SourceOutcomeRow.verification_id == verification_id)
                    .order_by(SourceOutcomeRow.member_index, SourceOutcomeRow.source)
                )
            ).scalars()
            out = [
                OutcomeSummary(r.member_index, r.source, r.status, r.reason, r.deployment)
                for r in rows
            ]
            return out or await self._reported(verification_id)

    async def _reported(self, verification_id: str) -> list[OutcomeSummary]:
        """A closed check's outcomes, from its last report version's summary."""
        r = ReportRow
        q = (
            # The summary's columns only: the sealed envelope is the report's bulk.
            select(r)
            .options(load_only(r.version, r.data_key_id, r.summary_sealed, r.summary_json))
            .where(ReportRow.verification_id == verification_id)
            .order_by(ReportRow.version.desc())
            .limit(1)
        )
        row = (await self._session.execute(q)).scalar()
        summary = read_summary(self._sealer, row) if row is not None else None
        return progress_of(json.loads(summary)) if summary else []

    async def close(self, verification_id: str) -> None:
        async with guard():
            await self._session.execute(
                delete(SourceOutcomeRow).where(SourceOutcomeRow.verification_id == verification_id)
            )
