"""Telling every server process that a verification has a new report (PostgreSQL).

Watchers hear events from the process they are connected to. When another replica
releases a report — a late bank answer it polled, a run it resumed — the releasing
transaction also sends ``NOTIFY`` with the verification id (delivered only if it
commits), and each process listens on one connection of its own and wakes its watchers
of that verification at once. The id is a random UUID, not personal data.

SQLite has no notifications: processes sharing one file learn of each other's reports
by re-reading the database (``VerificationService.watch_recheck_seconds``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "hedui_report_released"
_FIRST_RETRY_S = 0.5
_MAX_RETRY_S = 30.0

log = structlog.get_logger("hedui.notify")


async def announce(session: AsyncSession, verification_id: str) -> None:
    """Notify listeners of ``verification_id`` when ``session``'s transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(CHANNEL, verification_id)))


def conninfo(database_url: str) -> str:
    """The libpq connection string of a configured ``postgresql://`` URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen(database_url: str, on_release: Callable[[str], None], stop: asyncio.Event) -> None:
    """Call ``on_release(verification_id)`` for every announcement until ``stop`` is set.

    A lost connection is reopened with growing pauses; while it is down, watchers still
    re-read the database on their own schedule, so nothing is missed, only later.
    """
    pause = _FIRST_RETRY_S
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo(database_url), autocommit=True
            ) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                pause = _FIRST_RETRY_S
                while not stop.is_set():
                    # A bounded wait, so a stop is noticed within a second.
                    async for note in conn.notifies(timeout=1.0):
                        on_release(note.payload)
        except (psycopg.Error, OSError) as exc:
            log.warning("notify_listener_lost", error=type(exc).__name__, retry_in_s=pause)
            try:
                await asyncio.wait_for(stop.wait(), pause)
            except TimeoutError:
                pause = min(pause * 2, _MAX_RETRY_S)
