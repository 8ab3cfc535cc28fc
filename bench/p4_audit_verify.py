"""P4: verify 1,000,000 audit entries from PostgreSQL (target ≤ 10 s), next to a raw
SHA-256 chain over the same leaf bytes measured in the same run.

    .venv/bin/python -m bench.p4_audit_verify [--entries N] [--pg-url URL] [--keep]

Creates a scratch database, migrates it, and bulk-loads N entries with COPY — real
canonical bodies, leaf and chain hashes, subject index rows, Merkle tree nodes, the head
and a signed checkpoint every 100,000 entries — then times
``audit.fastverify.verify_database`` (one snapshot, the seq range split across
``--workers`` processes, rows streamed with psycopg) and, unless ``--skip-exact``, the
sequential ``audit.verify.verify_log`` — both check chain + tree + nodes + checkpoints,
everything the auditor's command checks.

    .venv/bin/python -m bench.p4_audit_verify [--entries N] [--workers 2] [--skip-exact]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import time
import uuid
from datetime import UTC, datetime

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.checkpoint import Checkpoint
from audit.checkpointer import DEFAULT_ORIGIN, CheckpointSigner
from audit.entry import ZERO_CHAIN, Actor, EntryDraft, body_of, canonical, leaf_hash, next_chain
from audit.fastverify import FastStats, verify_database
from audit.merkle import TreeBuilder
from audit.verify import verify_log
from verifier.storage.engine import open_database
from verifier.storage.migrate import upgrade

ADMIN_URL = os.environ.get("HEDUI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CHECKPOINT_EVERY = 100_000
ACTIONS = ("authorize", "access_intent", "released", "report_read")


def _db_url(name: str) -> str:
    return ADMIN_URL.rpartition("/")[0] + "/" + name


def _draft(i: int) -> EntryDraft:
    return EntryDraft(
        actor=Actor("county-dibao-system", f"worker-{i % 97}", "caseworker", "370322"),
        action=ACTIONS[i % 4],
        outcome="allow",
        case_id=f"CASE-{i // 4}",
        verification_id=f"{uuid.UUID(int=i // 4)}",
        subject_refs=(hashlib.sha256(b"ref%d" % (i % 5000)).hexdigest(),),
        request_id=f"req-{i // 4}",
        details={"n": i} if i % 4 != 2 else {"envelope_sha256": "ab" * 32, "version": 1},
    )


def load(url: str, entries: int, signer: CheckpointSigner) -> list[bytes]:
    """COPY ``entries`` real entries in; returns the body bytes for the raw-chain baseline."""
    ts = datetime(2026, 11, 26, tzinfo=UTC)
    bodies: list[bytes] = []
    tree = TreeBuilder()
    chain = ZERO_CHAIN
    checkpoints: list[tuple[int, bytes, str]] = []
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        with conn.cursor() as cur:
            for table in ("audit_entries", "audit_subjects", "audit_tree_nodes", "audit_head"):
                cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")  # bulk load only
            with (
                cur.copy(
                    "COPY audit_entries (seq, ts, body, leaf_hash, chain_hash, actor_system,"
                    " actor_user, action, case_id, verification_id, outcome) FROM STDIN"
                ) as entries_copy,
            ):
                subjects: list[tuple[int, str]] = []
                nodes: list[tuple[int, int, bytes]] = []
                for i in range(entries):
                    d = _draft(i)
                    body = body_of(d, i, ts)
                    raw = canonical(body)
                    leaf = leaf_hash(raw)
                    chain = next_chain(chain, leaf)
                    bodies.append(raw)
                    entries_copy.write_row(
                        (
                            i,
                            body["ts"],
                            raw,
                            leaf,
                            chain,
                            d.actor.system,
                            d.actor.user,
                            d.action,
                            d.case_id,
                            d.verification_id,
                            d.outcome,
                        )
                    )
                    subjects.extend((i, r) for r in sorted(set(d.subject_refs)))
                    nodes.extend((i, lvl, h) for lvl, _x, h in tree.append_nodes(leaf)[1:])
                    if tree.size % CHECKPOINT_EVERY == 0:
                        note = signer.sign(Checkpoint(signer.origin, tree.size, tree.root()))
                        checkpoints.append((tree.size, tree.root(), note.decode()))
            with cur.copy("COPY audit_subjects (seq, subject_ref) FROM STDIN") as c:
                for row in subjects:
                    c.write_row(row)
            with cur.copy("COPY audit_tree_nodes (seq, level, hash) FROM STDIN") as c:
                for node in nodes:
                    c.write_row(node)
            cur.executemany(
                "INSERT INTO audit_checkpoints (size, root, note, created_at)"
                " VALUES (%s, %s, %s, '2026-11-26T00:00:00.000000Z')",
                checkpoints,
            )
            cur.execute(
                "UPDATE audit_head SET last_seq = %s, chain_hash = %s, frontier = %s WHERE id = 1",
                (entries - 1, chain, b"".join(tree.frontier)),
            )
            for table in ("audit_entries", "audit_subjects", "audit_tree_nodes", "audit_head"):
                cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            cur.execute("ANALYZE")
        conn.commit()
    return bodies


def raw_chain(bodies: list[bytes]) -> bytes:
    """The floor: SHA-256 leaf and chain hashes over bytes already in memory."""
    sha = hashlib.sha256
    chain = ZERO_CHAIN
    for raw in bodies:
        chain = sha(chain + sha(b"\x00" + raw).digest()).digest()
    return chain


async def timed_verify(url: str, keys: list[str]) -> tuple[float, bool, int, str]:
    db = open_database(url)
    try:
        t0 = time.perf_counter()
        async with db.read_sessions() as session:
            report = await verify_log(session, verifier_keys=keys, origin=DEFAULT_ORIGIN)
        return time.perf_counter() - t0, report.ok, report.entries, report.problem
    finally:
        await db.dispose()


async def timed_fast(url: str, keys: list[str], workers: int) -> tuple[float, bool, int, str, str]:
    stats = FastStats()
    t0 = time.perf_counter()
    report = await verify_database(
        url, verifier_keys=keys, origin=DEFAULT_ORIGIN, workers=workers, stats=stats
    )
    parts = ", ".join(f"[{p.lo:,}, {p.hi:,}) {p.seconds:.1f} s" for p in stats.parts)
    how = f"{stats.path}; parts {parts}"
    return time.perf_counter() - t0, report.ok, report.entries, report.problem, how


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--workers", type=int, default=2, help="processes for the fast verifier")
    ap.add_argument("--skip-exact", action="store_true", help="do not time verify_log")
    args = ap.parse_args()

    name = f"hedui_p4_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _db_url(name)
    try:
        upgrade(url)
        signer = CheckpointSigner(DEFAULT_ORIGIN, Ed25519PrivateKey.generate())
        t0 = time.perf_counter()
        bodies = load(url, args.entries, signer)
        print(f"P4 load: {args.entries:,} entries with COPY in {time.perf_counter() - t0:.1f} s")

        keys = [signer.verifier_key]
        fast_s, ok, n, problem, how = asyncio.run(timed_fast(url, keys, args.workers))
        t0 = time.perf_counter()
        raw_chain(bodies)
        raw_s = time.perf_counter() - t0
        per_million = fast_s * 1_000_000 / max(n, 1)
        print(
            f"P4 verify_database (chain + tree + nodes + checkpoints, PostgreSQL,"
            f" {args.workers} workers): {fast_s:.2f} s for {n:,} entries"
            f" — {'OK' if ok else 'FAILED: ' + problem} ({how})"
        )
        print(f"P4 raw SHA-256 chain over the same bytes in memory: {raw_s:.3f} s")
        print(
            f"P4 ratio fast/raw: {fast_s / raw_s:.1f}x; {per_million:.1f} s per million entries"
            f" (target ≤ 10 s): {'met' if per_million <= 10 else 'NOT met'}"
        )
        if not args.skip_exact:
            exact_s, exact_ok, _n, exact_problem = asyncio.run(timed_verify(url, keys))
            print(
                f"P4 verify_log (sequential, SQLAlchemy): {exact_s:.2f} s"
                f" — {'OK' if exact_ok else 'FAILED: ' + exact_problem};"
                f" ratio exact/raw {exact_s / raw_s:.1f}x, exact/fast {exact_s / fast_s:.1f}x"
            )
            ok = ok and exact_ok
        return 0 if ok else 1
    finally:
        if not args.keep:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    raise SystemExit(main())
