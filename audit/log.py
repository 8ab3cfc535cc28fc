"""Appending to the audit log inside the caller's database transaction.

The caller owns the transaction, so a "released" entry commits atomically with the
report it records. ``seq`` comes from the locked head row, never from a DB sequence:
sequences skip numbers on rollback, and the log must be gapless.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from audit.entry import EntryDraft, body_of, canonical, leaf_hash, next_chain
from audit.schema import AuditEntryRow, AuditHeadRow, AuditSubjectRow


class AuditUnavailable(RuntimeError):
    """The audit log cannot be written; requests must fail closed."""


@dataclass(frozen=True, slots=True)
class AppendedEntry:
    seq: int
    leaf_hash: bytes
    chain_hash: bytes


def _now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """Appends entries; call inside an open write transaction of ``session``."""

    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self._clock = clock

    async def append(
        self, session: AsyncSession, drafts: Sequence[EntryDraft]
    ) -> list[AppendedEntry]:
        if not drafts:
            return []
        head = (
            await session.execute(
                select(AuditHeadRow.last_seq, AuditHeadRow.chain_hash)
                .where(AuditHeadRow.id == 1)
                .with_for_update()
            )
        ).one_or_none()
        if head is None:
            raise AuditUnavailable("the audit head row is missing; run `hedui db upgrade`")
        last_seq, chain = head.last_seq, head.chain_hash
        ts = self._clock()
        rows: list[dict[str, object]] = []
        subjects: list[dict[str, object]] = []
        out: list[AppendedEntry] = []
        for draft in drafts:
            last_seq += 1
            body = body_of(draft, last_seq, ts)
            raw = canonical(body)
            leaf = leaf_hash(raw)
            chain = next_chain(chain, leaf)
            rows.append(
                {
                    "seq": last_seq,
                    "ts": body["ts"],
                    "body": raw,
                    "leaf_hash": leaf,
                    "chain_hash": chain,
                    "actor_system": draft.actor.system,
                    "actor_user": draft.actor.user,
                    "action": draft.action,
                    "case_id": draft.case_id,
                    "verification_id": draft.verification_id,
                    "outcome": draft.outcome,
                }
            )
            subjects.extend(
                {"seq": last_seq, "subject_ref": r} for r in sorted(set(draft.subject_refs))
            )
            out.append(AppendedEntry(last_seq, leaf, chain))
        await session.execute(insert(AuditEntryRow), rows)
        if subjects:
            await session.execute(insert(AuditSubjectRow), subjects)
        await session.execute(
            update(AuditHeadRow)
            .where(AuditHeadRow.id == 1)
            .values(last_seq=last_seq, chain_hash=chain)
        )
        return out
