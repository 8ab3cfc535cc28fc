"""Every kind of tampering is detected by verify_log with the first bad seq named, on both
databases: updated, deleted, truncated, reordered and inserted rows, a changed tree node,
a history rewritten with all hashes recomputed, an older copy of the database restored,
and a forked checkpoint signed with the real key.

The attacker has owner rights: triggers are dropped (SQLite) or disabled (PostgreSQL).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from audit.checkpoint import Checkpoint
from audit.checkpointer import DEFAULT_ORIGIN, Checkpointer, CheckpointSigner
from audit.entry import ZERO_CHAIN, Actor, EntryDraft, canonical, leaf_hash, next_chain
from audit.log import AuditLog
from audit.merkle import TreeBuilder
from audit.verify import LogReport, verify_log
from tests.conftest import PG_ADMIN_URL
from verifier.storage.engine import Database, open_database

N = 10
FIRST_CHECKPOINT = 4
AUDIT_TABLES = (
    "audit_entries",
    "audit_subjects",
    "audit_tree_nodes",
    "audit_checkpoints",
    "audit_head",
)


def draft(i: int) -> EntryDraft:
    return EntryDraft(
        actor=Actor("sys", f"user{i}", "caseworker", "3703"),
        action="released" if i % 3 == 0 else "authorize",
        outcome="allow",
        case_id=f"C{i}",
        subject_refs=(f"{i:064x}",),
        details={"n": i},
    )


@dataclass
class Log:
    db: Database
    signer: CheckpointSigner
    trusted: bytes  # the checkpoint note an auditor kept at size N

    async def verify(self, **kw: object) -> LogReport:
        async with self.db.read_sessions() as s:
            return await verify_log(s, verifier_keys=[self.signer.verifier_key], **kw)  # type: ignore[arg-type]

    async def sql(self, *statements: str, **params: object) -> None:
        async with self.db.write_engine.begin() as conn:
            for s in statements:
                await conn.execute(text(s), params)

    async def unprotect(self) -> None:
        async with self.db.write_engine.begin() as conn:
            if self.db.sqlite:
                names = (
                    await conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))
                ).scalars()
                for name in list(names):
                    await conn.execute(text(f"DROP TRIGGER {name}"))
            else:
                for t in AUDIT_TABLES:
                    await conn.execute(text(f"ALTER TABLE {t} DISABLE TRIGGER USER"))


async def append(db: Database, start: int, count: int) -> None:
    log = AuditLog(clock=lambda: datetime(2026, 11, 26, tzinfo=UTC))
    for i in range(start, start + count):
        async with db.write_sessions() as s:
            await log.append(s, [draft(i)])
            await s.commit()


def checkpointer(db: Database, signer: CheckpointSigner) -> Checkpointer:
    return Checkpointer(db.write_sessions, db.read_sessions, signer)


@pytest.fixture
async def log(database_url: str) -> AsyncIterator[Log]:
    db = open_database(database_url)
    signer = CheckpointSigner(DEFAULT_ORIGIN, Ed25519PrivateKey.generate())
    await append(db, 0, FIRST_CHECKPOINT)
    await checkpointer(db, signer).checkpoint()
    await append(db, FIRST_CHECKPOINT, N - FIRST_CHECKPOINT)
    cp = await checkpointer(db, signer).checkpoint()
    yield Log(db, signer, cp.note)
    await db.dispose()


async def test_untouched_log_verifies_with_checkpoints_and_trusted_note(log: Log) -> None:
    r = await log.verify(trusted_checkpoint=log.trusted)
    assert (r.ok, r.entries, r.checkpoints, r.trusted_size) == (True, N, 2, N), r.problem


async def test_updated_row(log: Log) -> None:
    await log.unprotect()
    await log.sql("UPDATE audit_entries SET outcome = 'deny' WHERE seq = 6")
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, 6)


async def test_deleted_row(log: Log) -> None:
    await log.unprotect()
    await log.sql(
        "DELETE FROM audit_subjects WHERE seq = 5", "DELETE FROM audit_entries WHERE seq = 5"
    )
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, 5) and "missing" in r.problem


async def test_truncated_tables(log: Log) -> None:
    await log.unprotect()
    if log.db.sqlite:
        await log.sql("DELETE FROM audit_subjects", "DELETE FROM audit_entries")
    else:
        await log.sql("TRUNCATE audit_subjects, audit_entries")
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, 0)


async def test_truncated_tables_with_head_and_tree_reset(log: Log) -> None:
    # Everything emptied and the head reset: only the signed checkpoints remember.
    await log.unprotect()
    await log.sql(
        "DELETE FROM audit_subjects",
        "DELETE FROM audit_entries",
        "DELETE FROM audit_tree_nodes",
        "UPDATE audit_head SET last_seq = -1, chain_hash = :z, frontier = :e",
        z=ZERO_CHAIN,
        e=b"",
    )
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, 0) and "checkpoint" in r.problem


async def test_reordered_rows(log: Log) -> None:
    async with log.db.read_sessions() as s:
        rows = {
            r.seq: r
            for r in await s.execute(
                text(
                    "SELECT seq, body, leaf_hash, chain_hash FROM audit_entries WHERE seq IN (7, 8)"
                )
            )
        }
    await log.unprotect()
    for a, b in ((7, 8), (8, 7)):
        await log.sql(
            "UPDATE audit_entries SET body = :body, leaf_hash = :leaf, chain_hash = :chain"
            " WHERE seq = :seq",
            body=rows[b].body,
            leaf=rows[b].leaf_hash,
            chain=rows[b].chain_hash,
            seq=a,
        )
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, 7)


async def test_inserted_row_with_correct_chain_and_head(log: Log) -> None:
    # A careful attacker appends a well-formed entry and advances the chain head, but
    # cannot produce the tree state the signed checkpoints and the head frontier expect.
    async with log.db.read_sessions() as s:
        chain = (
            await s.execute(
                text("SELECT chain_hash FROM audit_entries WHERE seq = :s"), {"s": N - 1}
            )
        ).scalar_one()
    body = canonical(
        {
            "seq": N,
            "ts": "2026-11-26T00:00:00.000000Z",
            "actor": {"system": "sys", "user": "x", "role": "", "region": ""},
            "action": "authorize",
            "case_id": "",
            "verification_id": "",
            "subject_refs": [],
            "source": "",
            "outcome": "allow",
            "reason": "",
            "request_id": "",
            "details": {},
        }
    )
    leaf = leaf_hash(body)
    new_chain = next_chain(bytes(chain), leaf)
    await log.unprotect()
    await log.sql(
        "INSERT INTO audit_entries (seq, ts, body, leaf_hash, chain_hash, actor_system,"
        " actor_user, action, case_id, verification_id, outcome) VALUES (:s,"
        " '2026-11-26T00:00:00.000000Z', :b, :l, :c, 'sys', 'x', 'authorize', '', '', 'allow')",
        "UPDATE audit_head SET last_seq = :s, chain_hash = :c",
        s=N,
        b=body,
        l=leaf,
        c=new_chain,
    )
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, N) and "frontier" in r.problem


async def test_changed_tree_node(log: Log) -> None:
    await log.unprotect()
    # Node (level 2, index 1) covers leaves 4..7 and was written by the append of seq 7.
    await log.sql("UPDATE audit_tree_nodes SET hash = :h WHERE seq = 7 AND level = 2", h=bytes(32))
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, 7) and "tree nodes" in r.problem


async def test_deleted_tree_node(log: Log) -> None:
    await log.unprotect()
    await log.sql("DELETE FROM audit_tree_nodes WHERE seq = 3 AND level = 1")
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, 3)


async def test_history_rewritten_with_every_hash_recomputed(log: Log) -> None:
    # Entry 6 is changed and the chain, the tree, its nodes and the head are all rebuilt:
    # only the signed checkpoint at size 10 can tell; the one at size 4 still matches.
    async with log.db.read_sessions() as s:
        bodies = [
            bytes(b)
            for b in (
                await s.execute(text("SELECT body FROM audit_entries ORDER BY seq"))
            ).scalars()
        ]
    import json

    doc = json.loads(bodies[6])
    doc["outcome"] = "deny"
    bodies[6] = canonical(doc)
    await log.unprotect()
    await log.sql("DELETE FROM audit_tree_nodes")
    chain, tree = ZERO_CHAIN, TreeBuilder()
    for seq, body in enumerate(bodies):
        leaf = leaf_hash(body)
        chain = next_chain(chain, leaf)
        await log.sql(
            "UPDATE audit_entries SET body = :b, leaf_hash = :l, chain_hash = :c, outcome = :o"
            " WHERE seq = :s",
            b=body,
            l=leaf,
            c=chain,
            o=json.loads(body)["outcome"],
            s=seq,
        )
        for level, _i, h in tree.append_nodes(leaf)[1:]:
            await log.sql(
                "INSERT INTO audit_tree_nodes (seq, level, hash) VALUES (:s, :v, :h)",
                s=seq,
                v=level,
                h=h,
            )
    await log.sql(
        "UPDATE audit_head SET chain_hash = :c, frontier = :f", c=chain, f=b"".join(tree.frontier)
    )
    async with log.db.read_sessions() as s:
        unsigned = await verify_log(s)  # without keys, a consistent rewrite is undetectable
    assert unsigned.ok
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, FIRST_CHECKPOINT) and "size 10" in r.problem
    # And the checkpointer refuses to sign the rewritten history.
    from audit.checkpointer import CheckpointRefused

    await append(log.db, N, 1)
    with pytest.raises(CheckpointRefused):
        await checkpointer(log.db, log.signer).checkpoint()


async def test_forked_checkpoint_signed_with_the_real_key(log: Log) -> None:
    fork = log.signer.sign(Checkpoint(DEFAULT_ORIGIN, 7, bytes(range(32))))
    await log.sql(
        "INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (7, :r, :n, 'x')",
        r=bytes(range(32)),
        n=fork.decode(),
    )
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, FIRST_CHECKPOINT) and "fork" in r.problem


async def test_forked_trusted_checkpoint(log: Log) -> None:
    fork = log.signer.sign(Checkpoint(DEFAULT_ORIGIN, 6, bytes(range(32))))
    r = await log.verify(trusted_checkpoint=fork)
    assert (r.ok, r.first_bad_seq) == (False, FIRST_CHECKPOINT) and "trusted" in r.problem


async def test_checkpoint_by_another_key_is_named(log: Log) -> None:
    other = CheckpointSigner(DEFAULT_ORIGIN, Ed25519PrivateKey.generate())
    async with log.db.read_sessions() as s:
        root = (
            await s.execute(text("SELECT root FROM audit_checkpoints WHERE size = :n"), {"n": N})
        ).scalar_one()
    await log.unprotect()
    await log.sql(
        "UPDATE audit_checkpoints SET note = :n WHERE size = :s",
        n=other.sign(Checkpoint(DEFAULT_ORIGIN, N, bytes(root))).decode(),
        s=N,
    )
    r = await log.verify()
    assert (r.ok, r.first_bad_seq) == (False, N) and "does not verify" in r.problem


@pytest.fixture
def copy_database(log: Log) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for name in made:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_older_copy_of_the_database_restored(log: Log, copy_database: list[str]) -> None:
    # A backup is taken at size N; the log grows and the auditor keeps the new checkpoint;
    # then the backup is restored. It is internally consistent: only the kept note tells.
    url = log.db.url
    if log.db.sqlite:
        old_url = url.replace("hedui.db", "backup.db")
        src = sqlite3.connect(url.removeprefix("sqlite:///"))
        dst = sqlite3.connect(old_url.removeprefix("sqlite:///"))
        with src, dst:
            src.backup(dst)
        src.close()
        dst.close()
    else:
        name = f"hedui_old_{uuid.uuid4().hex[:10]}"
        copy_database.append(name)
        old_url = url.rsplit("/", 1)[0] + "/" + name
        source = url.rsplit("/", 1)[1]
        await log.db.dispose()  # CREATE DATABASE ... TEMPLATE needs the source idle
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    await append(log.db, N, 3)
    kept = (await checkpointer(log.db, log.signer).checkpoint()).note
    restored = Log(open_database(old_url), log.signer, kept)
    try:
        assert (await restored.verify()).ok
        r = await restored.verify(trusted_checkpoint=kept)
        assert (r.ok, r.first_bad_seq) == (False, N) and "older copy" in r.problem
    finally:
        await restored.db.dispose()
