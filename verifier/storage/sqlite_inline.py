"""SQLite for the async engine without a thread hop per statement.

aiosqlite runs every call on a helper thread and hands the result back through the
event loop. Under load each hop waits behind every other ready task, and a write
transaction holds SQLite's single write lock across all of its hops: a dozen statements
that take 1 ms of SQLite work hold the lock for tens of milliseconds.

SQLite work is local and short (a statement is tens of microseconds; a commit is one
fsync), so here it runs inline on the event loop, through an object that speaks the part
of aiosqlite's interface SQLAlchemy's ``sqlite+aiosqlite`` dialect uses. The only long
wait SQLite has — another process holding the write lock — is not slept inside SQLite
(``busy_timeout`` is 0): a busy database is retried with ``asyncio.sleep`` between tries,
so the event loop keeps serving while it waits, up to the configured lock timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_FIRST_BACKOFF_S = 0.001
_MAX_BACKOFF_S = 0.05


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY
    return "locked" in str(exc) or "busy" in str(exc)


class _Busy:
    """Retries a call while SQLite reports the database busy, sleeping asynchronously."""

    def __init__(self, lock_timeout_s: float) -> None:
        self.lock_timeout_s = lock_timeout_s

    async def run(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        give_up = time.monotonic() + self.lock_timeout_s
        backoff = _FIRST_BACKOFF_S
        while True:
            if time.monotonic() >= give_up:
                return call()  # one last try: its error is the one reported
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_S)
            try:
                return call()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise


class InlineCursor:
    """An aiosqlite-style cursor whose calls complete at once."""

    def __init__(self, cursor: sqlite3.Cursor, busy: _Busy) -> None:
        self._cursor = cursor
        self._busy = busy

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    def __await__(self) -> Any:
        async def itself() -> InlineCursor:
            return self

        return itself().__await__()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await self._busy.run(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        rows = list(parameters)
        await self._busy.run(lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> Sequence[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _ImmediateQueue:
    """Stands in for aiosqlite's request queue: runs the function now, on this thread."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)


class InlineConnection:
    """The part of ``aiosqlite.Connection`` that SQLAlchemy's aiosqlite dialect calls."""

    def __init__(self, connection: sqlite3.Connection, lock_timeout_s: float) -> None:
        self._conn: sqlite3.Connection | None = connection
        self._busy = _Busy(lock_timeout_s)
        self._tx = _ImmediateQueue()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._live().isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._live().cursor(), self._busy)

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        conn = self._live()
        await self._busy.run(conn.commit)

    async def rollback(self) -> None:
        self._live().rollback()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._live().create_function(*args, **kw)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def inline_creator(path: str, lock_timeout_ms: int) -> Callable[[], Any]:
    """An ``async_creator`` for :func:`~sqlalchemy.ext.asyncio.create_async_engine`."""

    async def connect() -> InlineConnection:
        # busy_timeout 0: a busy database is waited for by _Busy, off the event loop.
        conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        return InlineConnection(conn, lock_timeout_ms / 1000)

    return connect
