"""Recompute the audit chain from the database and name the first bad ``seq``.

Trusts nothing in the rows but the body bytes: the leaf and chain hashes, the query
columns and the subject index are all recomputed from the bodies and compared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.entry import ZERO_CHAIN, canonical, leaf_hash, next_chain
from audit.schema import AuditEntryRow, AuditHeadRow, AuditSubjectRow

BATCH = 5000


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""
    head_chain: bytes = ZERO_CHAIN


def _check_row(row: AuditEntryRow, expected_seq: int, chain: bytes, refs: list[str]) -> str:
    if row.seq != expected_seq:
        return f"expected seq {expected_seq}, found {row.seq} (a row is missing or inserted)"
    try:
        body = json.loads(row.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "body is not JSON"
    if not isinstance(body, dict):
        return "body is not a JSON object"
    if canonical(body) != row.body:
        return "body is not in canonical form"
    if body.get("seq") != row.seq:
        return f"body names seq {body.get('seq')}"
    if leaf_hash(row.body) != row.leaf_hash:
        return "leaf hash does not match the body (the row was changed)"
    if next_chain(chain, row.leaf_hash) != row.chain_hash:
        return "chain hash does not follow from the previous entry (rows changed or reordered)"
    actor = body.get("actor") or {}
    copies = {
        "ts": body.get("ts"),
        "actor_system": actor.get("system"),
        "actor_user": actor.get("user"),
        "action": body.get("action"),
        "case_id": body.get("case_id"),
        "verification_id": body.get("verification_id"),
        "outcome": body.get("outcome"),
    }
    for column, value in copies.items():
        if getattr(row, column) != value:
            return f"column {column} does not match the body"
    if sorted(set(body.get("subject_refs") or [])) != refs:
        return "subject index does not match the body"
    return ""


async def verify_chain(
    session: AsyncSession, progress: Callable[[int, int], None] | None = None
) -> ChainReport:
    """Walk every entry in ``seq`` order, in batches, recomputing the chain."""
    total = (await session.execute(select(func.count()).select_from(AuditEntryRow))).scalar_one()
    expected, chain, last = 0, ZERO_CHAIN, -1
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEntryRow)
                    .where(AuditEntryRow.seq > last)
                    .order_by(AuditEntryRow.seq)
                    .limit(BATCH)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        refs: dict[int, list[str]] = {}
        sub = await session.execute(
            select(AuditSubjectRow.seq, AuditSubjectRow.subject_ref)
            .where(AuditSubjectRow.seq > last, AuditSubjectRow.seq <= rows[-1].seq)
            .order_by(AuditSubjectRow.seq, AuditSubjectRow.subject_ref)
        )
        for seq, ref in sub:
            refs.setdefault(seq, []).append(ref)
        for row in rows:
            problem = _check_row(row, expected, chain, refs.get(row.seq, []))
            if problem:
                return ChainReport(False, expected, min(expected, row.seq), problem, chain)
            chain = row.chain_hash
            expected += 1
        last = rows[-1].seq
        session.expunge_all()
        if progress is not None:
            progress(expected, total)
    head = (
        await session.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1))
    ).scalar_one_or_none()
    if head is None:
        return ChainReport(False, expected, expected, "audit head row is missing", chain)
    if head.last_seq != expected - 1 or head.chain_hash != chain:
        # The head is updated with every append: a mismatch means entries after the last
        # row were removed (truncation) or the head was rewritten.
        return ChainReport(
            False,
            expected,
            expected,
            f"log ends at seq {expected - 1} but head says {head.last_seq}",
            chain,
        )
    return ChainReport(True, expected, None, "", chain)
