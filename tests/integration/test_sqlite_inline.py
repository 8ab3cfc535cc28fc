"""SQLite statements run inline on the event loop; a busy database is waited for
asynchronously, so the loop keeps serving while another process holds the write lock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from verifier.storage.engine import Database, open_database


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "inline.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    conn.close()
    return path


def other_process_writing(path: Path) -> sqlite3.Connection:
    """Another writer holding SQLite's write lock until it commits or rolls back."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t (v) VALUES ('theirs')")
    return conn


async def insert(db: Database, value: str) -> None:
    async with db.write_sessions() as session:
        await session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
        await session.commit()


async def values(db: Database) -> list[str]:
    async with db.read_sessions() as session:
        return list((await session.execute(text("SELECT v FROM t ORDER BY id"))).scalars())


async def test_reads_and_writes_round_trip(db_path: Path) -> None:
    db = open_database(f"sqlite:///{db_path}")
    try:
        await insert(db, "a")
        await insert(db, "b")
        assert await values(db) == ["a", "b"]
    finally:
        await db.dispose()


async def busy_timeouts(db: Database) -> set[int]:
    out = set()
    for sessions in (db.read_sessions, db.write_sessions):
        async with sessions() as session:
            out.add((await session.execute(text("PRAGMA busy_timeout"))).scalar_one())
    return out


async def test_a_busy_database_is_waited_for_without_stalling_the_loop(db_path: Path) -> None:
    db = open_database(f"sqlite:///{db_path}", lock_timeout_ms=30_000)
    # SQLite itself never sleeps on the lock (that would block the loop)...
    assert await busy_timeouts(db) == {0}
    holder = other_process_writing(db_path)
    try:
        write = asyncio.create_task(insert(db, "ours"))
        # ...so the loop turns while the write waits for it.
        for _ in range(50):
            await asyncio.sleep(0)
        assert not write.done()
        assert await values(db) == []  # readers still read while the writer waits
        holder.execute("COMMIT")
        await write
        assert await values(db) == ["theirs", "ours"]
    finally:
        holder.close()
        await db.dispose()


async def test_a_lock_held_past_the_timeout_fails_the_write(db_path: Path) -> None:
    db = open_database(f"sqlite:///{db_path}", lock_timeout_ms=50)
    holder = other_process_writing(db_path)
    try:
        with pytest.raises(OperationalError, match="locked"):
            await insert(db, "ours")
        holder.execute("ROLLBACK")
        assert await values(db) == []
        await insert(db, "ours")  # and the same engine writes once the lock is free
        assert await values(db) == ["ours"]
    finally:
        holder.close()
        await db.dispose()


async def test_a_failed_statement_rolls_back_its_transaction(db_path: Path) -> None:
    db = open_database(f"sqlite:///{db_path}")
    try:

        async def half_written() -> None:
            async with db.write_sessions() as session:
                await session.execute(text("INSERT INTO t (v) VALUES ('kept?')"))
                await session.execute(text("INSERT INTO t (v) VALUES (NULL)"))
                await session.commit()

        with pytest.raises(IntegrityError, match="NOT NULL"):
            await half_written()
        assert await values(db) == []
    finally:
        await db.dispose()


def test_url_options_are_refused_not_ignored(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no options"):
        open_database(f"sqlite:///{tmp_path}/x.db?timeout=30")
