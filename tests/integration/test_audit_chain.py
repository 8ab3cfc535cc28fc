"""The audit chain names the first bad seq after each kind of tampering, on both databases.

Tampering is done the way an attacker with owner rights would: triggers disabled
(PostgreSQL) or dropped (SQLite), then rows changed directly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from audit.entry import Actor, EntryDraft, canonical
from audit.log import AuditLog
from audit.verify import verify_chain
from verifier.storage.engine import Database, open_database

N = 6


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = open_database(database_url)
    log = AuditLog(clock=lambda: datetime(2026, 11, 26, tzinfo=UTC))
    for i in range(N):
        async with database.write_sessions() as s:
            await log.append(
                s,
                [
                    EntryDraft(
                        actor=Actor("sys", f"user{i}", "caseworker", "3703"),
                        action="authorize",
                        outcome="allow",
                        case_id=f"C{i}",
                        subject_refs=(f"{i:064x}",),
                    )
                ],
            )
            await s.commit()
    yield database
    await database.dispose()


async def _sql(db: Database, *statements: str) -> None:
    async with db.write_engine.begin() as conn:
        if db.sqlite:
            for t in ("audit_entries", "audit_subjects"):
                for verb in ("update", "delete"):
                    await conn.execute(text(f"DROP TRIGGER IF EXISTS {t}_no_{verb}"))
        else:
            await conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
            await conn.execute(text("ALTER TABLE audit_subjects DISABLE TRIGGER USER"))
        for s in statements:
            await conn.execute(text(s))


async def _verify(db: Database) -> tuple[bool, int | None, str]:
    async with db.read_sessions() as s:
        r = await verify_chain(s)
    return r.ok, r.first_bad_seq, r.problem


async def test_untouched_chain_verifies(db: Database) -> None:
    assert await _verify(db) == (True, None, "")


async def test_appends_are_gapless_and_chained(db: Database) -> None:
    async with db.read_sessions() as s:
        seqs = [r for (r,) in await s.execute(text("SELECT seq FROM audit_entries ORDER BY seq"))]
    assert seqs == list(range(N))


async def test_changed_body_is_named(db: Database) -> None:
    async with db.read_sessions() as s:
        body = (await s.execute(text("SELECT body FROM audit_entries WHERE seq = 3"))).scalar_one()
    doc = json.loads(body)
    doc["outcome"] = "deny"
    await _sql(db)
    async with db.write_engine.begin() as conn:
        await conn.execute(
            text("UPDATE audit_entries SET body = :b WHERE seq = 3"), {"b": canonical(doc)}
        )
    ok, seq, problem = await _verify(db)
    assert (ok, seq) == (False, 3) and "changed" in problem


async def test_changed_query_column_is_named(db: Database) -> None:
    await _sql(db, "UPDATE audit_entries SET actor_user = 'someone-else' WHERE seq = 2")
    assert (await _verify(db))[:2] == (False, 2)


async def test_removed_subject_index_row_is_named(db: Database) -> None:
    await _sql(db, "DELETE FROM audit_subjects WHERE seq = 4")
    assert (await _verify(db))[:2] == (False, 4)


async def test_deleted_row_is_named(db: Database) -> None:
    await _sql(
        db, "DELETE FROM audit_subjects WHERE seq = 2", "DELETE FROM audit_entries WHERE seq = 2"
    )
    ok, seq, problem = await _verify(db)
    assert (ok, seq) == (False, 2) and "missing" in problem


async def test_truncated_tail_is_named(db: Database) -> None:
    await _sql(
        db,
        f"DELETE FROM audit_subjects WHERE seq = {N - 1}",
        f"DELETE FROM audit_entries WHERE seq = {N - 1}",
    )
    assert (await _verify(db))[:2] == (False, N - 1)


async def test_reordered_rows_are_named(db: Database) -> None:
    # Swap entries 1 and 2 wholesale (bodies and hashes), keeping seq numbers in place.
    async with db.read_sessions() as s:
        rows = {
            r.seq: r
            for r in (
                await s.execute(
                    text(
                        "SELECT seq, body, leaf_hash, chain_hash FROM audit_entries WHERE seq IN (1, 2)"
                    )
                )
            ).all()
        }
    await _sql(db)
    async with db.write_engine.begin() as conn:
        for a, b in ((1, 2), (2, 1)):
            await conn.execute(
                text(
                    "UPDATE audit_entries SET body = :body, leaf_hash = :leaf, chain_hash = :chain WHERE seq = :seq"
                ),
                {
                    "body": rows[b].body,
                    "leaf": rows[b].leaf_hash,
                    "chain": rows[b].chain_hash,
                    "seq": a,
                },
            )
    assert (await _verify(db))[:2] == (False, 1)


async def test_inserted_row_is_named(db: Database) -> None:
    await _sql(db)
    async with db.read_sessions() as s:
        row = (
            await s.execute(
                text("SELECT body, leaf_hash, chain_hash FROM audit_entries WHERE seq = 5")
            )
        ).one()
    async with db.write_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_entries (seq, ts, body, leaf_hash, chain_hash, actor_system, actor_user,"
                " action, case_id, verification_id, outcome) VALUES (6, 'x', :b, :l, :c, 's', 'u', 'a', '', '', 'o')"
            ),
            {"b": row.body, "l": row.leaf_hash, "c": row.chain_hash},
        )
    assert (await _verify(db))[:2] == (False, 6)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET outcome = 'deny' WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 1",
        "DELETE FROM audit_subjects WHERE seq = 1",
    ],
)
async def test_the_database_refuses_changes_to_audit_rows(db: Database, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.write_engine.begin() as conn:
            await conn.execute(text(statement))
    assert await _verify(db) == (True, None, "")


async def test_the_database_refuses_truncation(db: Database) -> None:
    # SQLite's truncate is an unqualified DELETE (its truncate optimisation); PostgreSQL's
    # TRUNCATE bypasses row triggers, hence the statement-level trigger.
    statement = (
        "DELETE FROM audit_entries" if db.sqlite else "TRUNCATE audit_subjects, audit_entries"
    )
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.write_engine.begin() as conn:
            await conn.execute(text(statement))
    assert await _verify(db) == (True, None, "")
