"""Appending to the audit log inside the caller's database transaction.

The caller owns the transaction, so a "released" entry commits atomically with the
report it records. ``seq`` comes from the locked head row, never from a DB sequence:
sequences skip numbers on rollback, and the log must be gapless. The same lock covers
the Merkle tree: the head keeps its frontier, and every perfect subtree an append
completes is written to ``audit_tree_nodes`` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from psycopg import sql
from sqlalchemy import Table, bindparam, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from audit.entry import AppendedEntry, EntryDraft, body_of, canonical, leaf_hash, next_chain
from audit.merkle import HASH_SIZE, TreeBuilder
from audit.schema import (
    AuditBase,
    AuditEntryRow,
    AuditHeadRow,
    AuditSubjectRow,
    AuditTreeNodeRow,
)

__all__ = ["AppendedEntry", "AuditLog", "AuditUnavailable", "split_frontier"]


class AuditUnavailable(RuntimeError):
    """The audit log cannot be written; requests must fail closed."""


def split_frontier(size: int, frontier: bytes) -> TreeBuilder:
    """Resume the tree from the head's stored state; a damaged head is unavailable, not usable."""
    hashes = [frontier[i : i + HASH_SIZE] for i in range(0, len(frontier), HASH_SIZE)]
    try:
        return TreeBuilder.from_frontier(size, hashes)
    except ValueError as exc:
        raise AuditUnavailable(f"the audit head's tree frontier is damaged: {exc}") from None


async def _insert(
    session: AsyncSession, model: type[AuditBase], rows: list[dict[str, object]]
) -> None:
    """Insert ``rows`` into ``model``'s table in the session's transaction.

    On PostgreSQL with psycopg the rows go by COPY: a batch of a few hundred entries
    (each with its subject and tree-node rows) is one stream instead of hundreds of
    INSERT statements, which is where a group commit spends its time. Elsewhere, one
    executemany through SQLAlchemy Core.
    """
    if not rows:
        return
    table = cast(Table, model.__table__)
    connection = await session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        columns = list(rows[0])
        raw = await connection.get_raw_connection()
        driver = cast(psycopg.AsyncConnection[Any], raw.driver_connection)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        async with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                await copy.write_row([row[c] for c in columns])
        return
    await connection.execute(table.insert(), rows)


def _now() -> datetime:
    return datetime.now(UTC)


_HEAD = "audit.head"
"""``session.info`` key of the head as this transaction holds it: (last_seq, chain_hash,
frontier), present only while the transaction holds the head's lock."""

_Head = tuple[int, bytes, bytes]

_HEAD_TABLE = cast(Table, AuditHeadRow.__table__)
_HEAD_UPDATE = (
    update(_HEAD_TABLE)
    .where(_HEAD_TABLE.c.id == 1)
    .values(
        last_seq=bindparam("new_seq"),
        chain_hash=bindparam("new_chain"),
        frontier=bindparam("new_frontier"),
    )
)
"""Built once, the values as parameters: every append runs it (nothing coerced per call)."""


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, _previous: SessionTransaction) -> None:
    # A rolled-back savepoint may have held an append: the database's head is back to
    # before it, the kept copy is not.
    session.info.pop(_HEAD, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the lock goes with the transaction
        session.info.pop(_HEAD, None)


async def _locked_head(session: AsyncSession) -> _Head:
    """The head row, locked for this transaction (read once; see the module's note)."""
    kept: _Head | None = session.info.get(_HEAD)
    if kept is not None:
        return kept
    head = (
        await session.execute(
            select(AuditHeadRow.last_seq, AuditHeadRow.chain_hash, AuditHeadRow.frontier)
            .where(AuditHeadRow.id == 1)
            .with_for_update()
        )
    ).one_or_none()
    if head is None:
        raise AuditUnavailable("the audit head row is missing; run `hedui db upgrade`")
    kept = (head.last_seq, head.chain_hash, head.frontier)
    session.info[_HEAD] = kept
    return kept


class AuditLog:
    """Appends entries; call inside an open write transaction of ``session``."""

    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self._clock = clock

    @staticmethod
    async def lock_head(session: AsyncSession) -> None:
        """Take the head row lock now (PostgreSQL; SQLite's BEGIN IMMEDIATE already has it)
        and keep the head for this transaction's appends.

        A transaction that locks other rows before it appends must take this first:
        two such transactions taking the same two locks in opposite orders deadlock.
        """
        await _locked_head(session)

    async def append(
        self, session: AsyncSession, drafts: Sequence[EntryDraft]
    ) -> list[AppendedEntry]:
        if not drafts:
            return []
        last_seq, chain, frontier = await _locked_head(session)
        tree = split_frontier(last_seq + 1, frontier)
        ts = self._clock()
        rows: list[dict[str, object]] = []
        subjects: list[dict[str, object]] = []
        nodes: list[dict[str, object]] = []
        out: list[AppendedEntry] = []
        for draft in drafts:
            last_seq += 1
            body = body_of(draft, last_seq, ts)
            raw = canonical(body)
            leaf = leaf_hash(raw)
            chain = next_chain(chain, leaf)
            # Level 0 is the leaf itself, already stored as audit_entries.leaf_hash.
            nodes.extend(
                {"seq": last_seq, "level": level, "hash": digest}
                for level, _index, digest in tree.append_nodes(leaf)[1:]
            )
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
        await _insert(session, AuditEntryRow, rows)
        await _insert(session, AuditSubjectRow, subjects)
        await _insert(session, AuditTreeNodeRow, nodes)
        frontier = b"".join(tree.frontier)
        await session.execute(
            _HEAD_UPDATE, {"new_seq": last_seq, "new_chain": chain, "new_frontier": frontier}
        )
        session.info[_HEAD] = (last_seq, chain, frontier)
        return out
