"""Group commit on both databases: one gapless verified chain from many concurrent
submitters, batches that really share transactions (counted with an engine event, not
timed), a failing unit rolled back alone, and a failed append or commit failing everyone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from audit.entry import Actor, EntryDraft
from audit.group_commit import GroupCommitFailed, GroupCommitter, GroupCommitterClosed
from audit.log import AuditLog
from audit.verify import verify_chain, verify_log
from verifier.storage.engine import Database, open_database


def draft(tag: str, i: int) -> EntryDraft:
    return EntryDraft(
        actor=Actor("sys", f"user{i}", "caseworker", "370322"),
        action="access_intent",
        outcome="allow",
        case_id=f"C{i}",
        subject_refs=(f"{i:064x}", f"{i + 1:064x}"),
        request_id=f"{tag}-{i}",
        details={"n": i},
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = open_database(database_url, pool_size=4)
    async with database.write_engine.begin() as conn:
        await conn.execute(text("CREATE TABLE gc_probe (tag VARCHAR(64) PRIMARY KEY)"))
    yield database
    await database.dispose()


def committer(db: Database, **kw: Any) -> GroupCommitter:
    return GroupCommitter(db.write_sessions, write_lock=db.write_lock if db.sqlite else None, **kw)


def count_head_reads(db: Database) -> list[int]:
    reads = [0]

    @event.listens_for(db.write_engine.sync_engine, "before_cursor_execute")
    def _read(_conn: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if statement.startswith("SELECT audit_head.last_seq"):
            reads[0] += 1

    return reads


def count_commits(db: Database) -> list[int]:
    commits = [0]

    @event.listens_for(db.write_engine.sync_engine, "commit")
    def _commit(_conn: Any) -> None:
        commits[0] += 1

    return commits


async def rows(db: Database, sql: str) -> list[Any]:
    async with db.read_sessions() as s:
        return list((await s.execute(text(sql))).all())


async def assert_verifies(db: Database, entries: int) -> None:
    async with db.read_sessions() as s:
        chain = await verify_chain(s)
        log = await verify_log(s)
    assert chain.ok, chain.problem
    assert log.ok, log.problem
    assert chain.entries == log.entries == entries


async def test_concurrent_submitters_make_one_gapless_chain(db: Database) -> None:
    commits = count_commits(db)
    batches: list[tuple[int, int]] = []
    n = 120

    async with committer(db, max_batch=32, on_batch=lambda u, e: batches.append((u, e))) as gc:

        async def one(i: int) -> list[int]:
            # Every third caller appends two entries in one unit.
            drafts = [draft("a", i)] + ([draft("b", i)] if i % 3 == 0 else [])
            entries, result = await gc.submit(drafts)
            assert result is None
            return [e.seq for e in entries]

        seqs = await asyncio.gather(*(one(i) for i in range(n)))

    total = n + len(range(0, n, 3))
    flat = sorted(s for unit in seqs for s in unit)
    assert flat == list(range(total))  # gapless, nothing twice, every caller got its seqs
    for unit in seqs:  # a unit's entries are consecutive
        assert unit == list(range(unit[0], unit[0] + len(unit)))
    # Each caller's seq holds that caller's entry.
    stored = dict(await rows(db, "SELECT seq, body FROM audit_entries"))
    for i, unit in enumerate(seqs):
        assert f'"request_id":"a-{i}"'.encode() in stored[unit[0]]
    assert sum(u for u, _ in batches) == n and sum(e for _, e in batches) == total
    assert len(batches) == commits[0] < n  # fewer transactions than callers
    assert max(u for u, _ in batches) > 1
    await assert_verifies(db, total)


async def test_a_full_queue_is_one_transaction(db: Database) -> None:
    commits = count_commits(db)
    # max_wait is far away: a full batch starts the transaction, the rest wait their turn.
    async with committer(db, max_batch=25, max_wait=3600) as gc:
        results = await asyncio.gather(*(gc.submit([draft("x", i)]) for i in range(100)))
    assert commits[0] == 4
    assert sorted(e.seq for entries, _ in results for e in entries) == list(range(100))
    await assert_verifies(db, 100)


async def test_units_arriving_one_by_one_each_commit(db: Database) -> None:
    commits = count_commits(db)
    async with committer(db, max_wait=0) as gc:
        for i in range(3):
            entries, _ = await gc.submit([draft("s", i)])
            assert [e.seq for e in entries] == [i]
    assert commits[0] == 3
    await assert_verifies(db, 3)


async def test_a_units_failure_is_told_after_its_batch_committed(db: Database) -> None:
    # A caller that reacts to its own failure by reading what another unit of the batch
    # wrote (a duplicate request looking up the original) must find it committed.
    commits = count_commits(db)
    seen: list[int] = []

    async def ok(_session: AsyncSession) -> str:
        return "ok"

    async def refuse(_session: AsyncSession) -> str:
        raise ValueError("refused")

    async with committer(db, max_batch=2, max_wait=3600) as gc:

        async def failing() -> None:
            with pytest.raises(ValueError, match="refused"):
                await gc.submit([draft("f", 1)], refuse)
            seen.append(commits[0])

        await asyncio.gather(gc.submit([draft("o", 0)], ok), failing())
    assert seen == [1]
    await assert_verifies(db, 1)


async def test_failing_unit_is_rolled_back_alone(db: Database) -> None:
    commits = count_commits(db)

    def work(i: int) -> Any:
        async def run(session: AsyncSession) -> str:
            await session.execute(text("INSERT INTO gc_probe (tag) VALUES (:t)"), {"t": f"p{i}"})
            if i % 4 == 1:
                raise ValueError(f"unit {i} refuses")
            return f"done {i}"

        return run

    async with committer(db, max_batch=10, max_wait=3600) as gc:
        outcomes = await asyncio.gather(
            *(gc.submit([draft("w", i)], work(i)) for i in range(10)), return_exceptions=True
        )
    assert commits[0] == 1
    failed = [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    assert failed == [1, 5, 9]
    for i in failed:
        err = outcomes[i]
        assert isinstance(err, ValueError) and str(err) == f"unit {i} refuses"
    good = [o for o in outcomes if not isinstance(o, BaseException)]
    assert [r for _, r in good] == [f"done {i}" for i in range(10) if i not in failed]
    assert sorted(e.seq for entries, _ in good for e in entries) == list(range(7))
    probe = sorted(t for (t,) in await rows(db, "SELECT tag FROM gc_probe"))
    assert probe == sorted(f"p{i}" for i in range(10) if i not in failed)
    bodies = [b for (b,) in await rows(db, "SELECT body FROM audit_entries ORDER BY seq")]
    assert not any(b'"request_id":"w-1"' in b for b in bodies)
    await assert_verifies(db, 7)


async def _block_head(db: Database) -> None:
    async with db.write_engine.begin() as conn:
        if db.sqlite:
            await conn.execute(
                text(
                    "CREATE TRIGGER gc_block BEFORE UPDATE ON audit_head"
                    " BEGIN SELECT RAISE(ABORT, 'head blocked by the test'); END"
                )
            )
        else:
            await conn.execute(
                text(
                    "CREATE FUNCTION gc_block() RETURNS trigger AS $$ BEGIN"
                    " RAISE EXCEPTION 'head blocked by the test'; END; $$ LANGUAGE plpgsql"
                )
            )
            await conn.execute(
                text(
                    "CREATE TRIGGER gc_block BEFORE UPDATE ON audit_head"
                    " FOR EACH ROW EXECUTE FUNCTION gc_block()"
                )
            )


async def _unblock_head(db: Database) -> None:
    async with db.write_engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER gc_block" + ("" if db.sqlite else " ON audit_head")))


async def test_an_append_rolled_back_with_its_unit_is_not_continued_from(db: Database) -> None:
    # The head is read once per transaction and kept (audit.log): a unit that appended in
    # its savepoint and then failed must not leave the next unit continuing from its seq.
    log = AuditLog()
    heads = count_head_reads(db)

    def work(i: int) -> Any:
        async def run(session: AsyncSession) -> int:
            await log.append(session, [draft("in", i)])
            if i % 3 == 1:
                raise ValueError(f"unit {i} refuses")
            await log.append(session, [draft("again", i)])
            return i

        return run

    async with committer(db, max_batch=6, max_wait=3600) as gc:
        outcomes = await asyncio.gather(
            *(gc.submit([], work(i)) for i in range(6)), return_exceptions=True
        )
    failed = [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    assert failed == [1, 4]
    assert [o for o in outcomes if not isinstance(o, BaseException)] == [
        ([], i) for i in (0, 2, 3, 5)
    ]
    await assert_verifies(db, 8)
    # Read at the lock, and again only after each of the two rollbacks.
    assert heads[0] == 3


async def test_failed_append_fails_every_caller_and_writes_nothing(db: Database) -> None:
    async with committer(db, max_wait=0) as single:
        first = await single.submit([draft("ok", 0)])
    assert [e.seq for e in first[0]] == [0]
    async with committer(db, max_batch=8, max_wait=3600) as gc:
        await _block_head(db)

        async def probe(session: AsyncSession) -> None:
            await session.execute(text("INSERT INTO gc_probe (tag) VALUES ('lost')"))

        outcomes = await asyncio.gather(
            *(gc.submit([draft("f", i)], probe if i == 0 else None) for i in range(8)),
            return_exceptions=True,
        )
        assert all(isinstance(o, GroupCommitFailed) for o in outcomes), outcomes
        assert all("head blocked" in str(o.__cause__) for o in outcomes)  # type: ignore[union-attr]
        assert await rows(db, "SELECT seq FROM audit_entries") == [(0,)]
        assert await rows(db, "SELECT tag FROM gc_probe") == []
        await _unblock_head(db)
        again = await asyncio.gather(*(gc.submit([draft("again", i)]) for i in range(8)))
        assert sorted(e.seq for entries, _ in again for e in entries) == list(range(1, 9))
    await assert_verifies(db, 9)


@pytest.mark.postgres
async def test_failure_at_commit_fails_every_caller(database_url: str, db: Database) -> None:
    if db.sqlite:
        pytest.skip("SQLite has no deferred constraint triggers: covered by the head block")
    async with db.write_engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION gc_refuse() RETURNS trigger AS $$ BEGIN"
                " RAISE EXCEPTION 'refused at commit'; END; $$ LANGUAGE plpgsql"
            )
        )
        # Deferred: the statements all succeed and the transaction dies in COMMIT.
        await conn.execute(
            text(
                "CREATE CONSTRAINT TRIGGER gc_refuse AFTER INSERT ON gc_probe"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gc_refuse()"
            )
        )

    async def poison(session: AsyncSession) -> None:
        await session.execute(text("INSERT INTO gc_probe (tag) VALUES ('poison')"))

    async with committer(db, max_batch=6, max_wait=3600) as gc:
        outcomes = await asyncio.gather(
            *(gc.submit([draft("c", i)], poison if i == 2 else None) for i in range(6)),
            return_exceptions=True,
        )
    assert all(isinstance(o, GroupCommitFailed) for o in outcomes), outcomes
    assert all("refused at commit" in str(o.__cause__) for o in outcomes)  # type: ignore[union-attr]
    assert await rows(db, "SELECT seq FROM audit_entries") == []
    assert await rows(db, "SELECT last_seq FROM audit_head") == [(-1,)]


async def test_table_gone_fails_every_caller(db: Database) -> None:
    async with committer(db, max_wait=0) as single:
        await single.submit([draft("ok", 0)])
    gc = committer(db, max_batch=4, max_wait=3600)
    async with db.write_engine.begin() as conn:
        await conn.execute(text("DROP TABLE audit_subjects"))
    outcomes = await asyncio.gather(
        *(gc.submit([draft("g", i)]) for i in range(4)), return_exceptions=True
    )
    assert all(isinstance(o, GroupCommitFailed) for o in outcomes), outcomes
    assert await rows(db, "SELECT count(*) FROM audit_entries") == [(1,)]
    await gc.aclose()
    with pytest.raises(GroupCommitterClosed):
        await gc.submit([draft("late", 0)])


async def test_cancelled_caller_still_queued_is_dropped(db: Database) -> None:
    async with committer(db, max_batch=4, max_wait=3600) as gc:
        doomed = asyncio.ensure_future(gc.submit([draft("doomed", 0)]))
        await asyncio.sleep(0)  # let it queue (one scheduler turn, not a timed wait)
        doomed.cancel()
        results = await asyncio.gather(*(gc.submit([draft("k", i)]) for i in range(3)))
    assert doomed.cancelled()
    assert sorted(e.seq for entries, _ in results for e in entries) == [0, 1, 2]
    bodies = [b for (b,) in await rows(db, "SELECT body FROM audit_entries")]
    assert not any(b'"doomed-0"' in b for b in bodies)
    await assert_verifies(db, 3)


async def test_a_batch_with_work_holds_the_head_before_any_work_runs(db: Database) -> None:
    # Units lock rows of their own; if the head were taken only at the first append,
    # two replicas' batches could take a row and the head in opposite orders and
    # deadlock. So while the first unit's work runs, nobody else can take the head.
    if db.sqlite:
        pytest.skip("SQLite: BEGIN IMMEDIATE holds the whole database from the start")
    seen: list[bool] = []

    async def probe(_session: AsyncSession) -> None:
        async with db.read_engine.connect() as other:
            try:
                await other.execute(
                    text("SELECT id FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT")
                )
            except DBAPIError:
                seen.append(True)  # held by the batch
            else:
                seen.append(False)
            await other.rollback()

    async with committer(db, max_batch=2, max_wait=3600) as gc:
        await asyncio.gather(gc.submit([draft("h", 0)], probe), gc.submit([draft("h", 1)]))
    assert seen == [True]
    await assert_verifies(db, 2)
