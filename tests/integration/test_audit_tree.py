"""The Merkle tree persisted with the audit log: proofs and roots served from the database
agree with an independent in-memory tree, on both databases; checkpoints are signed only
over logs consistent with the latest one; verify_log passes an untouched log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text

from audit.checkpoint import Checkpoint, open_checkpoint
from audit.checkpointer import (
    DEFAULT_ORIGIN,
    Checkpointer,
    CheckpointRefused,
    CheckpointSigner,
    StoredCheckpoint,
)
from audit.entry import Actor, EntryDraft
from audit.log import AuditLog
from audit.merkle import MemoryTree, ProofError, verify_consistency, verify_inclusion
from audit.proofs import consistency_proof, inclusion_proof, inclusion_proofs, root_at
from audit.schema import AuditEntryRow, AuditTreeNodeRow
from audit.verify import verify_log
from verifier.storage.engine import Database, open_database
from verifier.storage.migrate import upgrade

N = 40


def draft(i: int) -> EntryDraft:
    return EntryDraft(
        actor=Actor("sys", f"user{i}", "caseworker", "3703"),
        action="authorize",
        outcome="allow",
        case_id=f"C{i}",
        subject_refs=(f"{i:064x}",),
    )


async def append(db: Database, start: int, count: int, per_tx: int = 3) -> None:
    log = AuditLog(clock=lambda: datetime(2026, 11, 26, tzinfo=UTC))
    i = start
    while i < start + count:
        n = min(per_tx, start + count - i)
        async with db.write_sessions() as s:
            await log.append(s, [draft(j) for j in range(i, i + n)])
            await s.commit()
        i += n


async def leaves(db: Database) -> list[bytes]:
    async with db.read_sessions() as s:
        return [
            bytes(h)
            for h in (
                await s.execute(select(AuditEntryRow.leaf_hash).order_by(AuditEntryRow.seq))
            ).scalars()
        ]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = open_database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def signer() -> CheckpointSigner:
    return CheckpointSigner(DEFAULT_ORIGIN, Ed25519PrivateKey.generate())


def checkpointer(db: Database, signer: CheckpointSigner, **kw: float) -> Checkpointer:
    return Checkpointer(db.write_sessions, db.read_sessions, signer, **kw)  # type: ignore[arg-type]


async def test_every_proof_of_small_trees_matches_an_independent_tree(db: Database) -> None:
    await append(db, 0, N, per_tx=7)
    mem = MemoryTree(await leaves(db))
    assert mem.size == N
    async with db.read_sessions() as s:
        for size in range(0, N + 1):
            want_root = mem.root(size)
            assert await root_at(s, size) == want_root
            if size:
                batch = await inclusion_proofs(s, list(range(size)), size)
            for index in range(size):
                proof = await inclusion_proof(s, index, size)
                assert proof == mem.inclusion_proof(index, size) == batch[index]
                verify_inclusion(mem.leaf_hash(index), index, size, proof, want_root)
            for old in range(0, size + 1):
                proof = await consistency_proof(s, old, size)
                assert proof == mem.consistency_proof(old, size)
                verify_consistency(old, size, mem.root(old), want_root, proof)


async def test_a_wrong_leaf_or_root_does_not_verify_against_served_proofs(db: Database) -> None:
    await append(db, 0, 13)
    mem = MemoryTree(await leaves(db))
    async with db.read_sessions() as s:
        proof = await inclusion_proof(s, 5, 13)
        with pytest.raises(ProofError):
            verify_inclusion(mem.leaf_hash(6), 5, 13, proof, mem.root())
        cproof = await consistency_proof(s, 7, 13)
        with pytest.raises(ProofError):
            verify_consistency(7, 13, mem.root(6), mem.root(), cproof)


async def test_proofs_beyond_the_log_are_refused(db: Database) -> None:
    await append(db, 0, 5)
    async with db.read_sessions() as s:
        with pytest.raises(ValueError, match="exceeds"):
            await inclusion_proof(s, 1, 6)
        with pytest.raises(ValueError, match="exceeds"):
            await consistency_proof(s, 2, 9)
        with pytest.raises(ValueError, match="exceeds"):
            await root_at(s, 6)


async def test_appends_store_exactly_the_completed_subtrees(db: Database) -> None:
    await append(db, 0, 16, per_tx=5)
    async with db.read_sessions() as s:
        nodes = (
            await s.execute(
                select(AuditTreeNodeRow.seq, AuditTreeNodeRow.level).order_by(
                    AuditTreeNodeRow.seq, AuditTreeNodeRow.level
                )
            )
        ).all()
    # Leaf seq completes one node per trailing 1-bit of seq: 15 interior nodes for 16 leaves.
    want = [(seq, lvl) for seq in range(16) for lvl in range(1, 5) if (seq + 1) % (1 << lvl) == 0]
    assert [tuple(n) for n in nodes] == want


async def test_checkpoints_are_signed_notes_over_the_log(
    db: Database, signer: CheckpointSigner
) -> None:
    cps = checkpointer(db, signer)
    empty = await cps.checkpoint()
    assert empty.size == 0
    await append(db, 0, 9)
    cp = await cps.checkpoint()
    opened = open_checkpoint(cp.note, signer.verifier_key)
    assert (opened.origin, opened.size) == (DEFAULT_ORIGIN, 9)
    assert opened.root_hash == MemoryTree(await leaves(db)).root()
    # Nothing new: the same checkpoint, not another row.
    assert await cps.checkpoint() == cp
    assert (await cps.covering(4)).size == 9
    async with db.read_sessions() as s:
        report = await verify_log(s, verifier_keys=[signer.verifier_key])
    assert report.ok and report.checkpoints == 2 and report.root == opened.root_hash


async def test_a_checkpoint_inconsistent_with_the_latest_is_refused(
    db: Database, signer: CheckpointSigner
) -> None:
    await append(db, 0, 4)
    # A checkpoint at size 4 signed with the real key over another tree (a fork) is latest.
    forged = signer.sign(Checkpoint(DEFAULT_ORIGIN, 4, bytes(range(32))))
    async with db.write_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (4, :r, :n, 'x')"
            ),
            {"r": bytes(range(32)), "n": forged.decode()},
        )
    await append(db, 4, 3)
    refused: list[CheckpointRefused] = []
    cps = Checkpointer(
        db.write_sessions,
        db.read_sessions,
        signer,
        on_refused=refused.append,
    )
    with pytest.raises(CheckpointRefused, match="not consistent"):
        await cps.checkpoint()
    assert refused and cps.refused is refused[0]
    async with db.read_sessions() as s:
        assert (await s.execute(text("SELECT max(size) FROM audit_checkpoints"))).scalar_one() == 4


async def test_background_checkpointer_signs_after_enough_entries(
    db: Database, signer: CheckpointSigner
) -> None:
    made = asyncio.Event()
    cps = checkpointer(db, signer, interval=3600.0, every_entries=5, poll=0.01)
    original = cps.checkpoint

    async def watched() -> StoredCheckpoint:
        cp = await original()
        made.set()
        return cp

    cps.checkpoint = watched  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(cps.run(stop))
    await append(db, 0, 6)
    await asyncio.wait_for(made.wait(), timeout=30)
    stop.set()
    await task
    latest = await cps.latest()
    assert latest is not None and latest.size >= 5


async def test_migration_builds_the_tree_over_entries_already_logged(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "0001")
    database = open_database(url)
    try:
        log = AuditLog()
        # At revision 0001 the head has no frontier: write entries the 0001 way.
        async with database.write_engine.begin() as conn:
            from audit.entry import ZERO_CHAIN, body_of, canonical, leaf_hash, next_chain

            chain = ZERO_CHAIN
            for i in range(11):
                raw = canonical(body_of(draft(i), i, datetime(2026, 1, 1, tzinfo=UTC)))
                leaf = leaf_hash(raw)
                chain = next_chain(chain, leaf)
                await conn.execute(
                    text(
                        "INSERT INTO audit_entries VALUES (:s, '2026-01-01T00:00:00.000000Z', :b,"
                        " :l, :c, 'sys', :u, 'authorize', :case, '', 'allow')"
                    ),
                    {"s": i, "b": raw, "l": leaf, "c": chain, "u": f"user{i}", "case": f"C{i}"},
                )
                await conn.execute(
                    text("INSERT INTO audit_subjects VALUES (:s, :r)"), {"s": i, "r": f"{i:064x}"}
                )
            await conn.execute(
                text("UPDATE audit_head SET last_seq = 10, chain_hash = :c"), {"c": chain}
            )
        await database.dispose()
        upgrade(url)
        database = open_database(url)
        async with database.write_sessions() as s:
            await log.append(s, [draft(11)])
            await s.commit()
        async with database.read_sessions() as s:
            report = await verify_log(s)
        assert report.ok, report.problem
        assert report.root == MemoryTree(await leaves(database)).root()
    finally:
        await database.dispose()
