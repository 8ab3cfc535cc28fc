"""P5 (memory) — roster-like households through the batch path, in-process sources.

Households are submitted as batches (as a case system, or the roster's re-check
scheduler, would hand them over) and run by the batch runner through the same intake as
single checks: authorize, intent, fan-out to in-process sources, assess, sign, audit,
store (SQLite in a scratch file). Resident memory is read once the first ``--first``
households are done and again at the end; the growth between them is the figure. Target
at full size (10,000 → 100,000 households): growth ≤ 50 MB.

Prints RSS after each batch of 1,000 households, RSS after ``--first`` and at the end, the
rate, the growth, and the growth scaled to 90,000 more households beside it (the figure
to compare with the target when the run is smaller than the issue's). The default size
keeps ``make bench`` short; run the full size with ``--households 100000 --first 10000``.
``bench.p5_roster_memory`` measures the same through the roster's re-check scheduler.

    .venv/bin/python -m bench.p5_batch_memory [--households 12000] [--first 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from bench.common import ratio_line, scratch_database
from hedui_sdk import (
    IdType,
    IncomeCategory,
    IncomeRecord,
    PermanentSourceError,
    Provenance,
    SourceKind,
    SourceQuery,
    SourceResult,
    resident_id,
)
from verifier.bootstrap import build_app
from verifier.config import BatchesConfig, Config, Principal
from verifier.domain.batches import ItemDraft
from verifier.domain.consent import CoverageDecision
from verifier.domain.household import MemberDraft, Purpose, Relation, RequestDraft
from verifier.domain.ports import Caller, ConsentGate, UnitOfWork

SYSTEM = "bench-system"
CALLER = Caller(SYSTEM, "bench", "caseworker", ("37",))
SOURCES = (SourceKind.HOUSEHOLD_REGISTRATION, SourceKind.TAX, SourceKind.SOCIAL_INSURANCE)
BATCH = 1000
TARGET_MB = 50.0


class Instant:
    """An in-process source: FOUND with one wage record for one subject in four."""

    version = "bench"

    def __init__(self, source: SourceKind) -> None:
        self.source = source
        self.name = f"bench-{source.value}"
        self._as_of = datetime.now(UTC)

    async def query(self, q: SourceQuery) -> SourceResult:
        h = hashlib.sha256(f"{self.source}:{q.subject.id_number}".encode()).digest()[0]
        if h % 4:
            return SourceResult.not_found(self._as_of)
        prov = Provenance(self.source.value, self.name, self.version, "R-1", self._as_of)
        rec = IncomeRecord(IncomeCategory.WAGES, "salary", q.window.start, q.window.end,
                           360_000, prov)  # fmt: skip
        return SourceResult.found([rec], self._as_of)

    async def poll(self, ticket: str) -> SourceResult:
        raise PermanentSourceError("synchronous")

    async def aclose(self) -> None:
        return None


class CoversAll(ConsentGate):
    """Every household covered: this measures the batch path, not the 授权书 registry."""

    async def check(self, uow: UnitOfWork, number: str, **_kw: object) -> CoverageDecision:
        return CoverageDecision(True)


def rss_mb() -> float:
    """Resident set size of this process now (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def household(n: int) -> ItemDraft:
    """Household ``n``: one applicant with a synthetic ID, as a roster row would give."""
    born = date(1950, 1, 1).toordinal() + (n // 1000) % 20_000
    number = resident_id.make("370322", date.fromordinal(born), n % 1000)
    draft = RequestDraft(
        request_id="",
        case_id=f"ROSTER-{n}",
        authorization_id=f"SQ-R-{n}",
        purposes=(Purpose.DIBAO,),
        region="370322",
        members=(MemberDraft(IdType.RESIDENT_ID, number, "在册户", Relation.APPLICANT),),
        sources=(),
        window_start="",
        window_end="",
    )
    return ItemDraft(f"roster-{n}", draft)


async def run(households: int, first: int, concurrency: int) -> tuple[float, float, float]:
    with scratch_database("sqlite") as url, tempfile.TemporaryDirectory() as keys:
        cfg = Config(
            database_url=url,
            keys_dir=Path(keys),
            principals={SYSTEM: Principal(SYSTEM, ("caseworker",), ("37",))},
            sources={},
            volume_soft=10**9,
            volume_hard=10**9,
            batches=BatchesConfig(concurrency=concurrency),
        )
        app = await build_app(
            cfg,
            adapters={k: Instant(k) for k in SOURCES},
            migrate=False,
            consent_gate=CoversAll(),
        )
        assert app.batches is not None
        assert app.batch_runner is not None
        stop = asyncio.Event()
        runner = asyncio.create_task(app.batch_runner.run(stop, interval=0.2))
        marks: dict[int, float] = {}
        t0 = time.perf_counter()
        try:
            done = 0
            for start in range(0, households, BATCH):
                items: Sequence[ItemDraft] = [
                    household(n) for n in range(start, min(households, start + BATCH))
                ]
                view = await app.batches.submit(CALLER, f"bench-{start}", items)
                del items
                async for latest in app.batches.watch(CALLER, view.record.id):
                    view = latest
                done += view.counts.done
                gc.collect()
                now = rss_mb()
                print(f"  after {done:>7,} households  RSS {now:8.1f} MB", flush=True)
                if done >= first and first not in marks:
                    marks[first] = now
        finally:
            stop.set()
            await runner
            elapsed = time.perf_counter() - t0
            gc.collect()
            end = rss_mb()
            await app.aclose()
        return marks.get(first, end), end, done / elapsed


async def main(households: int, first: int, concurrency: int) -> None:
    print(
        f"P5  memory: {households:,} roster-like households through the batch runner "
        f"({len(SOURCES)} in-process sources, SQLite, {concurrency} at a time)"
    )
    before, after, rate = await run(households, first, concurrency)
    growth = after - before
    span = households - first
    scaled = growth * 90_000 / span if span else 0.0
    print(f"  RSS after {first:,}: {before:.1f} MB; after {households:,}: {after:.1f} MB")
    print(f"  rate {rate:.0f} households/s")
    print(ratio_line(f"growth {first:,} → {households:,} (MB)", growth, f"≤ {TARGET_MB:g}"))
    print(ratio_line("growth scaled to 90,000 more households (MB)", scaled, f"≤ {TARGET_MB:g}"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--households", type=int, default=12_000)
    ap.add_argument("--first", type=int, default=2_000)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    asyncio.run(main(args.households, args.first, args.concurrency))
