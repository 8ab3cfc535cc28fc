"""Fast whole-log verification on PostgreSQL: one snapshot, the seq range split across
processes, rows streamed with psycopg, a cheap exact canonical-form check.

:func:`verify_database` gives the same :class:`~audit.verify.LogReport` as
:func:`audit.verify.verify_log` over the same database, and a log that verifies in one
verifies in the other. It is built as an optimistic pass plus the exact one:

1. A coordinator transaction (REPEATABLE READ, READ ONLY) exports its snapshot, reads
   the head and the checkpoints (opened with the verifier keys) and counts the entries.
2. The seq range is cut into ``workers`` parts; each is checked by its own process (the
   first in a thread of this one) inside a transaction that imports the snapshot, so all
   of them see exactly the rows the coordinator sees. A part starts from the stored chain
   hash of the row before it and the tree frontier at its start taken from the stored
   leaves and nodes; it recomputes everything :func:`verify_log` does per row (seq, body
   canonical form, leaf, chain, query columns, subject index, stored tree nodes) and the
   roots at the checkpoint sizes inside it.
3. The joins are checked: each part must end on the chain hash and frontier the next
   one started from (the first starts from zero and the empty tree, the last must end on
   the head), every checkpoint root must match, nothing may lie beyond the last entry,
   and consecutive checkpoints must be consistent by proofs served from the database.

If anything at all is wrong, the fast pass does not try to explain it: the exact
sequential :func:`verify_log` runs in the same snapshot and names the first bad seq and
the problem exactly as it always has. A damaged log costs the slow pass; a sound one
costs the fast one. SQLite always takes :func:`verify_log`.
"""

from __future__ import annotations

import asyncio
import itertools
import pickle
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from audit.canonical import SORTED_COMPACT as _ENCODE
from audit.checkpoint import open_checkpoint
from audit.entry import ZERO_CHAIN
from audit.merkle import EMPTY_ROOT, HASH_SIZE, TreeBuilder
from audit.verify import (
    _DECODE,
    LogReport,
    _consecutive_consistency,
    _parse_canonical,
    _Signed,
    _signed_checkpoints,
    verify_log,
)
from audit.verify import _NON_BMP as _NEEDS_EXACT
from audit.verify import _NeedsFullCanonicalisation as _Slow

__all__ = ["FastStats", "RangeJob", "RangeResult", "check_range", "verify_database"]

FETCH = 20_000


@dataclass(frozen=True, slots=True)
class RangeJob:
    """Check entries ``lo <= seq < hi`` in the exported ``snapshot``."""

    conninfo: str
    snapshot: str | None
    lo: int
    hi: int
    targets: tuple[int, ...] = ()  # tree sizes in (lo, hi] whose roots are wanted


@dataclass(frozen=True, slots=True)
class RangeResult:
    lo: int
    hi: int
    problem: str  # empty when the range is sound
    bad_seq: int | None
    start_chain: bytes
    start_frontier: tuple[bytes, ...]
    end_chain: bytes
    end_frontier: tuple[bytes, ...]
    roots: dict[int, bytes]
    seconds: float


@dataclass(slots=True)
class FastStats:
    """What the last :func:`verify_database` did, for benchmarks and the CLI."""

    path: str = ""  # "fast", "exact" (SQLite), or "fast→exact" (a problem was found)
    parts: list[RangeResult] = field(default_factory=list)
    fast_seconds: float = 0.0
    exact_seconds: float = 0.0


def _frontier_pieces(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, start)`` of a tree of ``size`` leaves, largest first."""
    out = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start))
            start += 1 << level
    return out


def _start_state(cur: psycopg.Cursor[Any], lo: int) -> tuple[bytes, list[bytes]] | str:
    """The stored chain hash before ``lo`` and the stored frontier of the tree of size lo."""
    if lo == 0:
        return ZERO_CHAIN, []
    row = cur.execute("SELECT chain_hash FROM audit_entries WHERE seq = %s", (lo - 1,)).fetchone()
    if row is None:
        return f"entry {lo - 1} is missing"
    frontier = []
    for level, start in _frontier_pieces(lo):
        if level == 0:
            got = cur.execute(
                "SELECT leaf_hash FROM audit_entries WHERE seq = %s", (start,)
            ).fetchone()
        else:
            got = cur.execute(
                "SELECT hash FROM audit_tree_nodes WHERE seq = %s AND level = %s",
                (start + (1 << level) - 1, level),
            ).fetchone()
        if got is None or len(got[0]) != HASH_SIZE:
            return f"tree node (level {level}) at {start} is missing"
        frontier.append(bytes(got[0]))
    return bytes(row[0]), frontier


def _stream(
    conn: psycopg.Connection[Any], name: str, query: str, lo: int, hi: int
) -> Iterator[Any]:
    with conn.cursor(name=name, binary=True) as cur:
        cur.itersize = FETCH
        cur.execute(query, (lo, hi))
        while rows := cur.fetchmany(FETCH):
            yield from rows


_ENTRIES = (
    "SELECT seq, body, leaf_hash, chain_hash, ts, actor_system, actor_user, action, case_id,"
    " verification_id, outcome FROM audit_entries WHERE seq >= %s AND seq < %s ORDER BY seq"
)
_SUBJECTS = (
    "SELECT seq, subject_ref FROM audit_subjects WHERE seq >= %s AND seq < %s"
    " ORDER BY seq, subject_ref"
)
_NODES = (
    "SELECT seq, level, hash FROM audit_tree_nodes WHERE seq >= %s AND seq < %s ORDER BY seq, level"
)


def check_range(job: RangeJob) -> RangeResult:
    """Verify one seq range (runs in a worker process or a thread)."""
    t0 = time.perf_counter()
    with psycopg.connect(job.conninfo, autocommit=False) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        if job.snapshot is not None:
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(job.snapshot)))
        with conn.cursor(binary=True) as cur:
            start = _start_state(cur, job.lo)
        if isinstance(start, str):
            return RangeResult(job.lo, job.hi, start, job.lo, b"", (), b"", (), {}, 0.0)
        start_chain, start_frontier = start
        result = _walk(conn, job, start_chain, start_frontier)
    return RangeResult(
        job.lo,
        job.hi,
        result[0],
        result[1],
        start_chain,
        tuple(start_frontier),
        result[2],
        result[3],
        result[4],
        time.perf_counter() - t0,
    )


def _walk(
    conn: psycopg.Connection[Any], job: RangeJob, chain: bytes, frontier: list[bytes]
) -> tuple[str, int | None, bytes, tuple[bytes, ...], dict[int, bytes]]:
    from hashlib import sha256

    tree = TreeBuilder.from_frontier(job.lo, frontier)
    append_nodes = tree.append_nodes
    targets = set(job.targets)
    roots: dict[int, bytes] = {}
    subjects = _stream(conn, "hedui_v_subjects", _SUBJECTS, job.lo, job.hi)
    nodes = _stream(conn, "hedui_v_nodes", _NODES, job.lo, job.hi)
    end: tuple[Any, ...] = (job.hi, "", b"")
    sub: tuple[Any, ...] = next(subjects, end)
    node: tuple[Any, ...] = next(nodes, end)
    expected = job.lo
    needs_exact = _NEEDS_EXACT.search
    decode, encode = _DECODE, _ENCODE

    def bad(
        seq: int, problem: str
    ) -> tuple[str, int | None, bytes, tuple[bytes, ...], dict[int, bytes]]:
        return problem, seq, chain, tree.frontier, roots

    for seq, body, leaf, chain_hash, ts, a_sys, a_user, action, case_id, vid, outcome in _stream(
        conn, "hedui_v_entries", _ENTRIES, job.lo, job.hi
    ):
        if seq != expected:
            return bad(expected, "a row is missing or inserted")
        # Canonical form: the exact bytes json.dumps(sort_keys, compact, raw UTF-8) writes.
        try:
            if needs_exact(body) is None:
                plain = body.decode("utf-8")
                doc = decode(plain)
                ok = encode(doc) == plain
            else:
                raise _Slow
        except _Slow:
            try:
                doc, ok = _parse_canonical(body)
            except (UnicodeDecodeError, ValueError, RecursionError):
                return bad(seq, "body is not JSON")
        except (UnicodeDecodeError, ValueError, RecursionError):
            return bad(seq, "body is not JSON")
        if not ok or not isinstance(doc, dict):
            return bad(seq, "body is not canonical JSON object")
        if doc.get("seq") != seq:
            return bad(seq, "body names another seq")
        if sha256(b"\x00" + body).digest() != leaf:
            return bad(seq, "leaf hash does not match the body")
        chain = sha256(chain + leaf).digest()
        if chain != chain_hash:
            return bad(seq, "chain hash does not follow")
        actor = doc.get("actor") or {}
        if (
            ts != doc.get("ts")
            or a_sys != actor.get("system")
            or a_user != actor.get("user")
            or action != doc.get("action")
            or case_id != doc.get("case_id")
            or vid != doc.get("verification_id")
            or outcome != doc.get("outcome")
        ):
            return bad(seq, "a query column does not match the body")
        refs = []
        while sub[0] == seq:
            refs.append(sub[1])
            sub = next(subjects, end)
        if sub[0] < seq:
            return bad(sub[0], "subject index row without its entry in order")
        if sorted(set(doc.get("subject_refs") or [])) != refs:
            return bad(seq, "subject index does not match the body")
        made = append_nodes(leaf)
        for level, _index, digest in made[1:]:
            if node[0] != seq or node[1] != level or bytes(node[2]) != digest:
                return bad(seq, "stored tree nodes differ from the recomputed tree")
            node = next(nodes, end)
        if node[0] <= seq:
            return bad(seq, "a stored tree node too many")
        if seq + 1 in targets:
            roots[seq + 1] = tree.root()
        expected += 1
    if expected != job.hi:
        return bad(expected, "range ends early")
    if sub[0] < job.hi or node[0] < job.hi:
        return bad(job.hi - 1, "index rows beyond the last entry of the range")
    return "", None, chain, tree.frontier, roots


async def _in_child(job: RangeJob) -> RangeResult:
    """Run :func:`check_range` in ``python -m audit.fastverify`` (no multiprocessing: a
    spawned pool would re-import the caller's ``__main__``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "audit.fastverify",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(pickle.dumps(job))
    if proc.returncode != 0:
        raise RuntimeError(f"verification worker failed: {err.decode(errors='replace')[-2000:]}")
    result = pickle.loads(out)  # noqa: S301 — our own child's answer
    if not isinstance(result, RangeResult):
        raise RuntimeError("verification worker answered nonsense")
    return result


def _child_main() -> int:
    # Run as __main__: use the importable module's classes, which the parent unpickles.
    from audit import fastverify

    job = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 — from our own parent
    sys.stdout.buffer.write(pickle.dumps(fastverify.check_range(job)))
    return 0


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _async_url(url: str) -> str:
    u = make_url(url)
    backend = u.get_backend_name()
    driver = "sqlite+aiosqlite" if backend == "sqlite" else "postgresql+psycopg"
    return u.set(drivername=driver).render_as_string(hide_password=False)


async def verify_database(
    url: str,
    *,
    verifier_keys: Sequence[str] = (),
    origin: str | None = None,
    trusted_checkpoint: bytes | None = None,
    workers: int = 2,
    min_part: int = 10_000,
    stats: FastStats | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LogReport:
    """Verify the audit log in the database at ``url``; see the module docstring."""
    stats = stats if stats is not None else FastStats()
    backend = make_url(url).get_backend_name()
    engine = create_async_engine(
        _async_url(url),
        **({} if backend == "sqlite" else {"isolation_level": "REPEATABLE READ"}),
    )
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            if backend != "postgresql":
                stats.path = "exact"
                t0 = time.perf_counter()
                report = await verify_log(
                    session,
                    progress,
                    verifier_keys=verifier_keys,
                    origin=origin,
                    trusted_checkpoint=trusted_checkpoint,
                )
                stats.exact_seconds = time.perf_counter() - t0
                return report
            await session.execute(text("SET TRANSACTION READ ONLY"))
            t0 = time.perf_counter()
            fast = await _fast(
                session,
                url,
                verifier_keys,
                origin,
                trusted_checkpoint,
                max(1, workers),
                max(1, min_part),
                stats,
            )
            stats.fast_seconds = time.perf_counter() - t0
            if fast is not None:
                stats.path = "fast"
                if progress is not None:
                    progress(fast.entries, fast.entries)
                return fast
            stats.path = "fast→exact"
            t0 = time.perf_counter()
            # The same transaction, so the same snapshot the fast pass saw.
            report = await verify_log(
                session,
                progress,
                verifier_keys=verifier_keys,
                origin=origin,
                trusted_checkpoint=trusted_checkpoint,
            )
            stats.exact_seconds = time.perf_counter() - t0
            return report
    finally:
        await engine.dispose()


async def _fast(
    session: AsyncSession,
    url: str,
    verifier_keys: Sequence[str],
    origin: str | None,
    trusted_checkpoint: bytes | None,
    workers: int,
    min_part: int,
    stats: FastStats,
) -> LogReport | None:
    """The optimistic pass: a LogReport when everything is sound, None otherwise."""
    snapshot = (await session.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
    trusted: _Signed | None = None
    if trusted_checkpoint is not None:
        if not verifier_keys:
            raise ValueError("a trusted checkpoint needs the audit verifier key(s)")
        cp = open_checkpoint(trusted_checkpoint, list(verifier_keys), origin=origin)
        trusted = _Signed(cp.size, cp.root_hash)
    signed: list[_Signed] = []
    if verifier_keys:
        signed, bad_checkpoint = await _signed_checkpoints(session, verifier_keys, origin)
        if bad_checkpoint is not None:
            return None
    head = (
        await session.execute(
            text("SELECT last_seq, chain_hash, frontier FROM audit_head WHERE id = 1")
        )
    ).one_or_none()
    if head is None:
        return None
    count, low, high = (
        await session.execute(text("SELECT count(*), min(seq), max(seq) FROM audit_entries"))
    ).one()
    n = int(head.last_seq) + 1
    if count != n or (n and (low != 0 or high != n - 1)):
        return None
    beyond = (
        await session.execute(
            text("SELECT 1 FROM audit_tree_nodes WHERE seq >= :n LIMIT 1"), {"n": n}
        )
    ).first()
    if beyond is not None:
        return None
    wanted = [(c.size, c.root) for c in signed] + (
        [(trusted.size, trusted.root)] if trusted else []
    )
    if any(size > n for size, _ in wanted):
        return None
    if any(size == 0 and root != EMPTY_ROOT for size, root in wanted):
        return None

    parts = max(1, min(workers, n // min_part))
    bounds = [n * k // parts for k in range(parts + 1)]
    sizes = sorted({size for size, _ in wanted if size > 0})
    conninfo = _conninfo(url)
    jobs = [
        RangeJob(
            conninfo,
            str(snapshot),
            lo,
            hi,
            tuple(s for s in sizes if lo < s <= hi),
        )
        for lo, hi in itertools.pairwise(bounds)
    ]
    # The first part in a thread of this process, the others in child processes.
    first = asyncio.to_thread(check_range, jobs[0])
    results = list(await asyncio.gather(first, *(_in_child(job) for job in jobs[1:])))
    stats.parts = results
    if any(r.problem for r in results):
        return None
    chain: bytes = ZERO_CHAIN
    frontier: tuple[bytes, ...] = ()
    roots: dict[int, bytes] = {}
    for r in results:
        if r.start_chain != chain or r.start_frontier != frontier:
            return None
        chain, frontier = r.end_chain, r.end_frontier
        roots.update(r.roots)
    if chain != bytes(head.chain_hash) or b"".join(frontier) != bytes(head.frontier):
        return None
    if any(size and roots.get(size) != root for size, root in wanted):
        return None
    if verifier_keys and signed and await _consecutive_consistency(session, signed):
        return None
    tree = TreeBuilder.from_frontier(n, frontier)
    return LogReport(
        True,
        n,
        None,
        "",
        chain,
        tree.root(),
        len(signed),
        trusted.size if trusted else None,
    )


if __name__ == "__main__":
    raise SystemExit(_child_main())
