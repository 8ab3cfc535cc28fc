"""P5 (memory) — a recipient roster re-checked by the server's scheduler, in-process sources.

A roster of ``--households`` households is imported in chunks of 1,000 (as a case system
would, each with its registered 授权书) into an app built as ``hedui serve`` builds it,
with its background work running (the re-check scheduler among it), SQLite in a scratch
file and zero-latency in-process sources. Each household is imported never checked, so
its first cycle is due on import: the scheduler enqueues, leases and starts its re-check
through the intake (authorize, intent, fan-out, assess, sign, audit, store) and records
it on the entry. Resident memory is read once the first ``--first`` households are
re-checked (everything imported so far done, garbage collected) and again at the end;
the growth between them is the figure. Target at full size (10,000 → 100,000 households):
growth ≤ 50 MB.

Prints RSS after each chunk, the rate, the growth, the growth per 10,000 households and
the growth scaled to 90,000 more households (the figure to compare with the target when
the run is smaller than the issue's). ``make bench`` runs a reduced size; the issue's is
``--households 100000 --first 10000``.

    .venv/bin/python -m bench.p5_roster_memory [--households 4000] [--first 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import sqlite3
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.common import ratio_line, scratch_database
from bench.p5_batch_memory import SOURCES, Instant, rss_mb
from hedui_sdk import IdType, resident_id
from verifier.bootstrap import App, build_app
from verifier.config import Config, Principal, RosterConfig
from verifier.domain.caller import Caller
from verifier.domain.consent import ConsentDraft, SignatoryDraft, SignatoryRole, SubjectDraft
from verifier.domain.household import HukouNature, MemberDraft, Purpose, Relation
from verifier.domain.roster import RosterClass, RosterEntryDraft
from verifier.service.roster.entries import IMPORT_MAX

SYSTEM = "bench-case-system"
REGION = "341824"  # 绩溪: its re-check cycles are in force (elsewhere they are examples)
CALLER = Caller(SYSTEM, "bench", "caseworker", (REGION,))
TARGET_MB = 50.0
VALID_FROM = date.today() - timedelta(days=30)


def member_numbers(n: int, members: int) -> list[str]:
    """Distinct synthetic ID numbers for household ``n``'s members."""
    out = []
    for j in range(members):
        k = n * members + j
        born = date(1940, 1, 1) + timedelta(days=(k // 1000) % 25_000)
        out.append(resident_id.make(REGION, born, k % 1000))
    return out


def relation(j: int) -> Relation:
    return (Relation.APPLICANT, Relation.SPOUSE)[j] if j < 2 else Relation.CHILD


def consent(n: int, numbers: list[str]) -> ConsentDraft:
    """The household's 授权书: every member signs for themself; all purposes and sources."""
    number = f"SQ-R-{n}"
    return ConsentDraft(
        number=number,
        region=REGION,
        subjects=tuple(
            SubjectDraft(IdType.RESIDENT_ID, x, f"在册{j}", relation(j))
            for j, x in enumerate(numbers)
        ),
        signatories=tuple(
            SignatoryDraft(IdType.RESIDENT_ID, x, f"在册{j}", SignatoryRole.SELF, (j,))
            for j, x in enumerate(numbers)
        ),
        sources=(),
        purposes=tuple(Purpose),
        valid_from=VALID_FROM.isoformat(),
        valid_until="",
        evidence_sha256=hashlib.sha256(number.encode()).hexdigest(),
        evidence_location=f"档案 {number}",
    )


def entry(n: int, numbers: list[str]) -> RosterEntryDraft:
    """Household ``n`` as a roster row: 低保 A, never checked (so due on import)."""
    return RosterEntryDraft(
        household_ref=f"HH-{n}",
        region=REGION,
        programs=(Purpose.DIBAO,),
        roster_class=RosterClass.DIBAO_A,
        authorization_number=f"SQ-R-{n}",
        case_ref=f"CASE-{n}",
        members=tuple(
            MemberDraft(IdType.RESIDENT_ID, x, f"在册{j}", relation(j))
            for j, x in enumerate(numbers)
        ),
        hukou=HukouNature.RURAL,
        last_check_date=None,
    )


async def import_chunk(app: App, start: int, stop: int, members: int) -> None:
    assert app.consents is not None
    assert app.roster is not None
    drafts = []
    for n in range(start, stop):
        numbers = member_numbers(n, members)
        await app.consents.register(CALLER, consent(n, numbers))
        drafts.append(entry(n, numbers))
    result = await app.roster.import_entries(CALLER, drafts)
    assert result.created == stop - start, result
    assert not result.rejected, result


def job_states(db_file: str) -> dict[str, int]:
    """The re-check jobs by state (a reader of its own: SQLite readers do not block)."""
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as c:
        rows = c.execute("SELECT state, count(*) FROM recheck_jobs GROUP BY state").fetchall()
    return {state: count for state, count in rows}


async def finished(db_file: str) -> int:
    """Jobs the scheduler is through with; anything but DONE stops the run."""
    states = await asyncio.to_thread(job_states, db_file)
    bad = {k: v for k, v in states.items() if k not in ("PENDING", "STARTED", "DONE")}
    if bad:
        raise RuntimeError(f"re-checks not run: {bad}")
    return states.get("DONE", 0)


async def until_done(db_file: str, at_least: int) -> int:
    # The jobs table is where the scheduler's progress shows; nothing signals it.
    while (done := await finished(db_file)) < at_least:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    return done


async def run(
    households: int, first: int, members: int, batch: int, budget: float
) -> tuple[float, float, float, int]:
    with scratch_database("sqlite") as url, tempfile.TemporaryDirectory() as keys:
        db_file = url.removeprefix("sqlite:///")
        cfg = Config(
            database_url=url,
            keys_dir=Path(keys),
            principals={SYSTEM: Principal(SYSTEM, ("caseworker",), (REGION,))},
            sources={},
            # Re-checks are the deployment's own; no person's volume limit should apply.
            volume_soft=10**9,
            volume_hard=10**9,
            roster=RosterConfig(interval=0.2, batch=batch),
        )
        app = await build_app(cfg, adapters={k: Instant(k) for k in SOURCES}, migrate=False)
        app.start_background()
        gc.freeze()  # as `hedui serve` does after startup
        marks: dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            imported = 0
            for start in range(0, households, IMPORT_MAX):
                stop = min(households, start + IMPORT_MAX)
                await import_chunk(app, start, stop, members)
                imported = stop
                last = imported == households or (
                    budget > 0 and imported > first and time.perf_counter() - t0 > budget
                )
                if imported == first or last:
                    # A mark: everything imported so far re-checked and recorded.
                    await until_done(db_file, imported)
                else:
                    # Keep one chunk queued ahead, so the scheduler never waits for an import.
                    await until_done(db_file, imported - IMPORT_MAX)
                gc.collect()
                now = rss_mb()
                done = await finished(db_file)
                print(
                    f"  imported {imported:>7,}  re-checked {done:>7,}  RSS {now:8.1f} MB",
                    flush=True,
                )
                if imported == first:
                    marks["first"] = now
                if last:
                    break
            elapsed = time.perf_counter() - t0
            gc.collect()
            marks["end"] = rss_mb()
        finally:
            await app.aclose()
        return marks.get("first", marks["end"]), marks["end"], imported / elapsed, imported


async def main(households: int, first: int, members: int, batch: int, budget: float) -> None:
    if first % IMPORT_MAX or first > households:
        raise SystemExit(f"--first must be a multiple of {IMPORT_MAX} and ≤ --households")
    print(
        f"P5  memory: a roster of {households:,} households × {members} member(s) re-checked"
        f" by the scheduler ({len(SOURCES)} in-process sources, SQLite, {batch} at a time)"
    )
    before, after, rate, households = await run(households, first, members, batch, budget)
    growth = after - before
    span = households - first
    per_10k = growth * 10_000 / span if span else 0.0
    print(f"  RSS after {first:,}: {before:.1f} MB; after {households:,}: {after:.1f} MB")
    print(f"  rate {rate:.1f} households/s (import and re-check)")
    print(ratio_line(f"growth {first:,} → {households:,} (MB)", growth, f"≤ {TARGET_MB:g}"))
    print(f"  growth per 10,000 households                 {per_10k:8.3f} MB")
    print(
        ratio_line("growth scaled to 90,000 more households (MB)", 9 * per_10k, f"≤ {TARGET_MB:g}")
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--households", type=int, default=4_000)
    ap.add_argument("--first", type=int, default=1_000)
    ap.add_argument("--members", type=int, default=2, help="members per household")
    ap.add_argument("--batch", type=int, default=16, help="re-checks the scheduler runs at once")
    ap.add_argument(
        "--budget-minutes",
        type=float,
        default=0.0,
        help="import no further chunk after this long (0: none); figures are for the "
        "households reached",
    )
    args = ap.parse_args()
    asyncio.run(
        main(args.households, args.first, args.members, args.batch, 60 * args.budget_minutes)
    )
