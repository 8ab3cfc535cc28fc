"""One part of the fast audit-log check: a seq range verified in a snapshot, streamed.

:func:`check_range` runs in a worker process (``python -m audit.fastrange``, fed a pickled
:class:`RangeJob` on stdin) or in a thread of :mod:`audit.fastverify`'s coordinator. It
starts from the stored chain hash before its range and the tree frontier at its start and
recomputes, per row, everything :func:`audit.verify.verify_log` does; the coordinator
checks that the parts join.
"""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from audit.canonical import SORTED_COMPACT as _ENCODE
from audit.entry import ZERO_CHAIN
from audit.merkle import HASH_SIZE, TreeBuilder
from audit.verify import _DECODE, _parse_canonical
from audit.verify import _NON_BMP as _NEEDS_EXACT
from audit.verify import _NeedsFullCanonicalisation as _Slow

__all__ = ["RangeJob", "RangeResult", "check_range"]

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


def _child_main() -> int:
    # Run as __main__: use the importable module's classes, which the parent unpickles.
    from audit import fastrange

    job = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 — from our own parent
    sys.stdout.buffer.write(pickle.dumps(fastrange.check_range(job)))
    return 0


if __name__ == "__main__":
    raise SystemExit(_child_main())
