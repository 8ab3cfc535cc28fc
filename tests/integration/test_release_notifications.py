"""PostgreSQL tells every server process of a release at once: a watcher on one process
hears of a version another process released without waiting to re-read the database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
from sqlalchemy import text

from tests.fakes import AsyncBankFake
from tests.helpers import APPLICANT_ID, CALLER, household_draft, soon
from tests.late_sources_helpers import bank_app, tick_at
from verifier.domain.outcomes import VerificationState
from verifier.service.events import Event, ReportEvent, StateEvent
from verifier.storage.engine import open_database
from verifier.storage.notify import CHANNEL, announce, conninfo, listen


async def listening(url: str, heard: asyncio.Queue[str]) -> None:
    """Return once a listener feeding ``heard`` is receiving: a probe went through."""
    async with await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True) as conn:
        while True:
            await conn.execute("SELECT pg_notify(%s, 'probe')", (CHANNEL,))
            try:
                if await asyncio.wait_for(heard.get(), 0.2) == "probe":
                    return
            except TimeoutError:
                continue  # not LISTENing yet: probe again


async def test_a_release_elsewhere_wakes_this_processs_watchers(
    postgres_url: str, keys_dir: Path
) -> None:
    bank = AsyncBankFake({APPLICANT_ID: 900_000})
    here = await bank_app(postgres_url, keys_dir, bank)
    elsewhere = await bank_app(postgres_url, keys_dir, bank)
    # Re-reading on a timer would take an hour: only the notification can be in time.
    here.service.watch_recheck_seconds = 3600
    stop = asyncio.Event()
    heard: asyncio.Queue[str] = asyncio.Queue()

    def on_release(vid: str) -> None:
        heard.put_nowait(vid)
        here.service.hub.changed_elsewhere(vid)

    listener = asyncio.create_task(here.store.listen_releases(on_release, stop))
    try:
        async with asyncio.timeout(20):
            await listening(postgres_url, heard)
        v = await here.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        vid = v.record.id
        events = here.service.watch(CALLER, vid)
        async with asyncio.timeout(10):
            async for e in events:
                if isinstance(e, StateEvent):
                    break

        bank.ready.set()
        assert await tick_at(elsewhere, 2) == 3
        told: list[Event] = []
        async with asyncio.timeout(10):
            async for e in events:
                told.append(e)
        assert [e.version for e in told if isinstance(e, ReportEvent)] == [2]
        assert isinstance(told[-1], StateEvent)
        assert told[-1].state is VerificationState.DONE
        assert vid in [heard.get_nowait() for _ in range(heard.qsize())]
    finally:
        stop.set()
        await asyncio.wait_for(listener, 10)
        await elsewhere.aclose()
        await here.aclose()


async def test_a_rolled_back_release_announces_nothing(postgres_url: str) -> None:
    db = open_database(postgres_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    stop = asyncio.Event()
    listener = asyncio.create_task(listen(postgres_url, heard.put_nowait, stop))
    try:
        async with asyncio.timeout(20):
            await listening(postgres_url, heard)
        async with db.write_sessions() as session:
            await announce(session, "rolled-back")
            await session.rollback()
        async with db.write_sessions() as session:
            await announce(session, "committed")
            await session.execute(text("SELECT 1"))
            await session.commit()
        async with asyncio.timeout(10):
            assert await heard.get() == "committed"
    finally:
        stop.set()
        await asyncio.wait_for(listener, 10)
        await db.dispose()
