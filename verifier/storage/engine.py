"""Database engines for the embedded default (SQLite) and production (PostgreSQL).

The configured URL is written the plain way (``sqlite:///var/hedui.db``,
``postgresql://user@host/db``); this module picks the async driver for the service and
the sync one for migrations.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from verifier.storage.sqlite_inline import inline_creator


def _variant(url: str, *, asynchronous: bool) -> URL:
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return u.set(drivername="sqlite+aiosqlite" if asynchronous else "sqlite")
    if backend == "postgresql":
        return u.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database backend {backend!r}: use sqlite or postgresql")


def sync_url(url: str) -> URL:
    return _variant(url, asynchronous=False)


def async_url(url: str) -> URL:
    return _variant(url, asynchronous=True)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    db = make_url(url).database
    if db and db != ":memory:":
        Path(db).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(engine: AsyncEngine, *, immediate: bool) -> None:
    # pysqlite's own transaction handling begins lazily and DEFERRED; a deferred
    # transaction that reads and then writes can deadlock against another writer. Writers
    # take the lock up front with BEGIN IMMEDIATE; readers stay deferred (WAL lets them run).
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        # SQLite must not sleep on a busy database: that would stall the event loop. The
        # inline connection answers "busy" by retrying asynchronously (even for the
        # journal_mode pragma below, which needs a lock while another process writes).
        cur.execute("PRAGMA busy_timeout=0")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@dataclass
class Database:
    """The engines and session factories of one database.

    ``write_lock`` serialises this process's SQLite writers (SQLite has one writer at a
    time anyway; queueing here avoids spinning on busy timeouts). It is unused on
    PostgreSQL, whose row locks do the work.
    """

    url: str
    read_engine: AsyncEngine
    write_engine: AsyncEngine
    read_sessions: async_sessionmaker[AsyncSession]
    write_sessions: async_sessionmaker[AsyncSession]
    sqlite: bool
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def dispose(self) -> None:
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()


def open_database(url: str, *, pool_size: int = 10, lock_timeout_ms: int = 5000) -> Database:
    """Engines for ``url``. ``lock_timeout_ms`` bounds how long a statement waits for a
    lock (the audit head, a busy SQLite file): past it the request fails UNAVAILABLE
    instead of hanging while the audit log cannot be written."""
    aurl = async_url(url)
    if is_sqlite(url):
        ensure_sqlite_dir(url)
        parsed = make_url(url)
        if parsed.query:
            # The inline connection opens the file itself; options would be ignored.
            raise ValueError(f"sqlite URLs take no options (got {', '.join(sorted(parsed.query))})")
        connect = inline_creator(parsed.database or "", lock_timeout_ms)
        read = create_async_engine(aurl, async_creator=connect)
        write = create_async_engine(aurl, async_creator=connect)
        _sqlite_pragmas(read, immediate=False)
        _sqlite_pragmas(write, immediate=True)
    else:
        read = write = create_async_engine(
            aurl,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            connect_args={"options": f"-c lock_timeout={int(lock_timeout_ms)}"},
        )
    return Database(
        url=url,
        read_engine=read,
        write_engine=write,
        read_sessions=async_sessionmaker(read, expire_on_commit=False),
        write_sessions=async_sessionmaker(write, expire_on_commit=False),
        sqlite=is_sqlite(url),
    )
