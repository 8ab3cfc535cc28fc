"""One statement for "insert this row unless its key is there": ``INSERT … ON CONFLICT
DO NOTHING`` in the database's own dialect, instead of a read by key and an ORM insert
(two round trips, and a unit-of-work object per row) on the request path."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


async def insert_new(
    session: AsyncSession, model: type[DeclarativeBase], values: dict[str, Any]
) -> bool:
    """Insert ``values`` as a row of ``model``; False (and nothing written) when a row
    with the same primary key exists, this transaction's own or a committed one. Only
    the primary key is the conflict: another unique constraint's violation still fails."""
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    key = list(model.__table__.primary_key)
    statement = (
        insert(model)
        .values(values)
        .on_conflict_do_nothing(index_elements=key)
        # A row back means it was written (a driver's rowcount is not reliable here).
        .returning(key[0])
    )
    return (await session.execute(statement)).first() is not None


__all__ = ["insert_new"]
