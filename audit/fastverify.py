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
import functools
import itertools
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from audit.entry import ZERO_CHAIN
from audit.fastrange import RangeJob, RangeResult, check_range
from audit.merkle import EMPTY_ROOT, TreeBuilder
from audit.verify import (
    LogReport,
    _consecutive_consistency,
    _Signed,
    _signed_checkpoints,
    _sound,
    _trusted,
    verify_log,
)

__all__ = ["FastStats", "RangeJob", "RangeResult", "check_range", "verify_database"]


@dataclass(slots=True)
class FastStats:
    """What the last :func:`verify_database` did, for benchmarks and the CLI."""

    path: str = ""  # "fast", "exact" (SQLite), or "fast→exact" (a problem was found)
    parts: list[RangeResult] = field(default_factory=list)
    fast_seconds: float = 0.0
    exact_seconds: float = 0.0


async def _in_child(job: RangeJob) -> RangeResult:
    """Run :func:`check_range` in ``python -m audit.fastrange`` (no multiprocessing: a
    spawned pool would re-import the caller's ``__main__``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "audit.fastrange",
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
            exact = functools.partial(
                _exact,
                session,
                stats,
                progress,
                verifier_keys=verifier_keys,
                origin=origin,
                trusted_checkpoint=trusted_checkpoint,
            )
            if backend != "postgresql":
                return await exact("exact")
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
            # The same transaction, so the same snapshot the fast pass saw.
            return await exact("fast→exact")
    finally:
        await engine.dispose()


async def _exact(
    session: AsyncSession,
    stats: FastStats,
    progress: Callable[[int, int], None] | None,
    path: str,
    *,
    verifier_keys: Sequence[str],
    origin: str | None,
    trusted_checkpoint: bytes | None,
) -> LogReport:
    """The sequential :func:`verify_log`, timed into ``stats`` under ``path``."""
    stats.path = path
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
    trusted = _trusted(trusted_checkpoint, verifier_keys, origin)
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
    return _sound(n, chain, TreeBuilder.from_frontier(n, frontier), signed, trusted)
