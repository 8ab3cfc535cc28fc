"""Re-wrap: re-encrypt every sealed column under the active data key after a rotation.

Each sealed value is decrypted with the key its row names and encrypted again with the
active key, with the same associated data (the row's identity) and in the same format (a
compressed value is not decompressed, so one compressed against a base needs no base).
Work goes in batches, each in one transaction, walking each table in primary-key order;
rows already on the active key are not touched, so a run that stops half-way is finished
by running it again.

A value that does not open (wrong key, moved between rows, altered) is reported and left
exactly as it is: re-sealing it would launder the tampering into a valid ciphertext.

Adding a sealed column is one line in :data:`SEALED_COLUMNS`. Columns of one table that
share a key id column are re-wrapped together (the key id names the key of all of them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    TableClause,
    and_,
    bindparam,
    column,
    func,
    inspect,
    literal,
    or_,
    select,
    table,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from verifier.storage.answers import answer_aad
from verifier.storage.engine import Database
from verifier.storage.fragments import fragment_aad
from verifier.storage.sealing import Sealer, SealError

Row = Mapping[Any, Any]
Aad = Callable[[Row], str]


@dataclass(frozen=True)
class SealedColumn:
    """Where one sealed value lives and the associated data it was sealed with."""

    table: str
    pk: tuple[str, ...]
    sealed: str
    key_id: str
    aad: Aad


def aad(prefix: str, *keys: str) -> Aad:
    """``prefix/value/value…``: the associated data uow.py seals each column with."""
    return lambda row: "/".join((prefix, *(str(row[k]) for k in keys)))


_OUTCOME = ("verification_id", "member_index", "source")
SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn("verifications", ("id",), "request_sealed", "request_key_id",
                 aad("verifications", "id")),
    SealedColumn("reports", ("verification_id", "version"), "envelope_sealed", "data_key_id",
                 aad("reports", "verification_id", "version")),
    SealedColumn("reports", ("verification_id", "version"), "summary_sealed", "data_key_id",
                 aad("report_summaries", "verification_id", "version")),
    SealedColumn("source_outcomes", _OUTCOME, "records_sealed", "records_key_id",
                 aad("source_outcomes", *_OUTCOME)),
    SealedColumn("source_outcomes", _OUTCOME, "ticket_sealed", "records_key_id",
                 aad("tickets", *_OUTCOME)),
    SealedColumn("result_cache", ("subject_ref", "source"), "records_sealed", "key_id",
                 aad("result_cache", "subject_ref", "source")),
    SealedColumn("consents", ("number",), "sealed", "key_id", aad("consents", "number")),
    SealedColumn("roster_entries", ("id",), "sealed", "key_id", aad("roster_entries", "id")),
    SealedColumn("alerts", ("id",), "person_sealed", "person_key_id", aad("alerts", "id")),
    SealedColumn("batch_items", ("batch_id", "item_index"), "request_sealed", "request_key_id",
                 aad("batch_items", "batch_id", "item_index")),
    SealedColumn("federation_answers", ("requester", "request_id"), "envelope_sealed", "seal_kid",
                 lambda row: answer_aad(row["requester"], row["request_id"])),
    SealedColumn("federation_fragments", ("verification_id", "envelope_sha256"),
                 "envelope_sealed", "seal_kid",
                 lambda row: fragment_aad(row["verification_id"], row["envelope_sha256"])),
)  # fmt: skip

DEFAULT_BATCH = 200


@dataclass(frozen=True)
class _Group:
    """The sealed columns of one table that share a key id column."""

    table: str
    pk: tuple[str, ...]
    key_id: str
    columns: tuple[SealedColumn, ...]

    def sql(self) -> TableClause:
        names = dict.fromkeys((*self.pk, self.key_id, *(c.sealed for c in self.columns)))
        return table(self.table, *(column(n) for n in names))


def groups(columns: Sequence[SealedColumn] = SEALED_COLUMNS) -> list[_Group]:
    out: dict[tuple[str, str], list[SealedColumn]] = {}
    for c in columns:
        out.setdefault((c.table, c.key_id), []).append(c)
    result = []
    for (tbl, kid), cols in out.items():
        if any(c.pk != cols[0].pk for c in cols):
            raise ValueError(f"sealed columns of {tbl} disagree on its primary key")
        result.append(_Group(tbl, cols[0].pk, kid, tuple(cols)))
    return result


@dataclass(frozen=True)
class RewrapFailure:
    """A row that was left alone. ``row`` gives primary-key values, which are ids, refs and
    numbers (never personal data); ``reason`` never carries plaintext or key material."""

    table: str
    row: str
    column: str
    key_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.table} {self.row} {self.column} (key {self.key_id}): {self.reason}"


@dataclass
class RewrapReport:
    active_kid: str
    counts: dict[str, int] = field(default_factory=dict)  # rows re-wrapped, per table
    skipped: dict[str, int] = field(default_factory=dict)  # rows already on the active key
    failures: list[RewrapFailure] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)  # not (yet) in this database
    keys_in_use: set[str] = field(default_factory=set)  # key ids some row still names
    unused_keys: list[str] = field(default_factory=list)  # loaded, not active, named by no row

    @property
    def ok(self) -> bool:
        return not self.failures


# Called after each committed batch: (table, rows done, rows to do in that table).
Progress = Callable[[str, int, int], None]


@asynccontextmanager
async def _batch(db: Database) -> AsyncIterator[AsyncConnection]:
    """One write transaction. SQLite: this process's writers queue on the write lock, as the
    unit of work does, and the connection begins IMMEDIATE, so no one writes in between."""
    if db.sqlite:
        async with db.write_lock, db.write_engine.begin() as conn:
            yield conn
    else:
        async with db.write_engine.begin() as conn:
            yield conn


def _after(cols: Sequence[ColumnElement[Any]], last: tuple[Any, ...]) -> ColumnElement[bool]:
    if len(cols) == 1:
        return cols[0] > literal(last[0])
    return tuple_(*cols) > tuple_(*(literal(v) for v in last))


def _describe(group: _Group, row: Row) -> str:
    return ", ".join(f"{k}={row[k]}" for k in group.pk)


async def _tables(db: Database) -> set[str]:
    async with db.read_engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    return set(names)


async def _rewrap_group(
    db: Database,
    sealer: Sealer,
    group: _Group,
    report: RewrapReport,
    batch_size: int,
    progress: Progress | None,
) -> None:
    t = group.sql()
    pk = [t.c[n] for n in group.pk]
    kid_col = t.c[group.key_id]
    active = sealer.active_kid
    stale = or_(kid_col != active, kid_col.is_(None))
    async with db.read_engine.connect() as conn:
        todo = int(
            (await conn.execute(select(func.count()).select_from(t).where(stale))).scalar_one()
        )
        report.skipped[group.table] = report.skipped.get(group.table, 0) + int(
            (
                await conn.execute(select(func.count()).select_from(t).where(kid_col == active))
            ).scalar_one()
        )
    report.counts.setdefault(group.table, 0)
    done = 0
    last: tuple[Any, ...] | None = None
    # The UPDATE binds under names of its own: SQLAlchemy reserves the column names.
    stmt = (
        update(t)
        .where(and_(*(c == bindparam(f"pk_{c.name}") for c in pk)), kid_col == bindparam("old_kid"))
        .values(
            {group.key_id: bindparam("new_kid")}
            | {c.sealed: bindparam(f"v_{c.sealed}") for c in group.columns}
        )
    )
    while True:
        q = select(t).where(stale).order_by(*pk).limit(batch_size)
        if last is not None:
            q = q.where(_after(pk, last))
        async with _batch(db) as conn:
            # Row locks (PostgreSQL) keep a concurrent writer from changing a row between
            # our read and our write; SQLite's IMMEDIATE transaction already excludes them.
            rows = (await conn.execute(q.with_for_update())).mappings().all()
            if not rows:
                break
            last = tuple(rows[-1][n] for n in group.pk)
            params = []
            for row in rows:
                new = _reseal(sealer, group, row, report)
                if new is None:
                    continue
                params.append(
                    {f"pk_{n}": row[n] for n in group.pk}
                    | {"old_kid": row[group.key_id], "new_kid": active}
                    | {f"v_{c}": v for c, v in new.items()}
                )
            if params:
                await conn.execute(stmt, params)
        # Counted once the batch has committed: the report never claims work that was undone.
        report.counts[group.table] += len(params)
        done += len(rows)
        if progress is not None:
            progress(group.table, done, todo)


def _reseal(
    sealer: Sealer, group: _Group, row: Row, report: RewrapReport
) -> dict[str, bytes | None] | None:
    """The row's sealed values under the active key, or None (with a failure recorded)."""
    out: dict[str, bytes | None] = {}
    kid = row[group.key_id]
    for c in group.columns:
        value = row[c.sealed]
        if value is None:
            out[c.sealed] = None
            continue
        aad = c.aad(row)
        try:
            out[c.sealed], _ = sealer.reseal(bytes(value), str(kid or ""), aad)
        except SealError as exc:
            report.failures.append(
                RewrapFailure(group.table, _describe(group, row), c.sealed, str(kid), str(exc))
            )
            return None
    return out


async def keys_in_use(db: Database, columns: Sequence[SealedColumn] = SEALED_COLUMNS) -> set[str]:
    """Every data key id that some row of the database still names."""
    present = await _tables(db)
    used: set[str] = set()
    async with db.read_engine.connect() as conn:
        for g in groups(columns):
            if g.table not in present:
                continue
            kid = g.sql().c[g.key_id]
            used |= {k for k in (await conn.execute(select(kid).distinct())).scalars() if k}
    return used


async def rewrap(
    db: Database,
    sealer: Sealer,
    progress: Progress | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
    columns: Sequence[SealedColumn] = SEALED_COLUMNS,
) -> RewrapReport:
    """Re-seal every sealed value not yet under ``sealer.active_kid``.

    Idempotent and resumable; tables not in this database (a later migration) are listed
    in ``missing_tables``. Rows that do not open are in ``failures`` and keep their old
    key id and ciphertext.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = RewrapReport(active_kid=sealer.active_kid)
    present = await _tables(db)
    for g in groups(columns):
        if g.table not in present:
            if g.table not in report.missing_tables:
                report.missing_tables.append(g.table)
            continue
        await _rewrap_group(db, sealer, g, report, batch_size, progress)
    report.keys_in_use = await keys_in_use(db, columns)
    report.unused_keys = sorted(set(sealer.keys) - report.keys_in_use - {sealer.active_kid})
    return report
