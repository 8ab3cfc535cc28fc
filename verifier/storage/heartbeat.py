"""The health probe's write: the audit head's lock and a committed heartbeat.

Health must fail exactly when an audit append could not be written. Taking the head lock
and rolling back is not enough: SQLite's ``BEGIN IMMEDIATE`` succeeds on a full disk and
on a file the process may not write, and PostgreSQL writes nothing durable until a
commit. So the probe commits one small update, as an append would.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import column, select, table, update

from audit.schema import AuditHeadRow
from verifier.domain.errors import StoreUnavailable
from verifier.storage.engine import Database
from verifier.storage.guard import guard

_HEARTBEAT = table("store_heartbeat", column("id"), column("beats"))


async def probe_writes(db: Database) -> None:
    """Commit a heartbeat under the audit head's lock, or raise :class:`StoreUnavailable`.

    On SQLite a failed probe also closes the pooled connections: one opened while the
    file was read-only stays read-only after the operator has made it writable again.
    (PostgreSQL's pool pings each connection before use and replaces dead ones.)"""
    try:
        await _beat(db)
    except Exception:
        if db.sqlite:
            await db.write_engine.dispose()
        raise


async def _beat(db: Database) -> None:
    lock = db.write_lock if db.sqlite else contextlib.nullcontext()
    async with lock, guard(), db.write_sessions() as session:
        head = await session.execute(
            select(AuditHeadRow.last_seq).where(AuditHeadRow.id == 1).with_for_update()
        )
        if head.one_or_none() is None:
            raise StoreUnavailable("the audit head row is missing; run `hedui db upgrade`")
        beat = await session.execute(
            update(_HEARTBEAT).where(_HEARTBEAT.c.id == 1).values(beats=_HEARTBEAT.c.beats + 1)
        )
        if beat.rowcount != 1:  # type: ignore[attr-defined]
            raise StoreUnavailable("the heartbeat row is missing; run `hedui db upgrade`")
        await session.commit()
