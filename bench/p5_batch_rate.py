"""P5 (time) and P6 — a batch against rate-limited sandbox departments over HTTP, and
interactive checks made while it runs.

The sandbox runs in its own process, each department limited to ``--rate`` requests a
second (429 beyond it) and ``--latency-ms`` away. hedui is configured with the same rate
for each source. The batch is submitted over gRPC and followed to its end.

P5: the batch's wall time against the rate-limit floor — the calls made to each source
(the batch's and the interactive checks') divided by the rate allowed. Target ≤ 1.15×.
P6: interactive checks (CreateVerification with wait) made one after another while the
batch runs, their p50 against the p50 of the same checks with nothing else running.
Target ≤ 1.5×. Both series are spaced alike, far enough apart that the interactive checks
alone stay within the rate limit: idle means idle, not queued behind each other.

Households have 3 members by default (a common size). Defaults keep ``make bench`` short;
the issue's size is ``--households 2000``. With small households at a high rate
(``--members 1 --rate 20``) the batch is bound by the verifier's own CPU, not by the
departments' rate: P6 then depends on how many batch items run at once
(``--concurrency``), since every item under way shares the one event loop and the one
database writer with the interactive checks.

Prints, for P5: the batch's wall time, the rate-limit floor with the calls per source it
counts, and their ratio; for P6: the idle and busy p50 with the number of checks in each,
and their ratio.

    .venv/bin/python -m bench.p5_batch_rate [--households 100] [--members 3] [--rate 12]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from hedui.v1 import batch_pb2 as bpb

from bench.common import SYSTEM, free_port, median, ratio_line, sandbox_process, scratch_database
from bench.households import household_request
from bench.p5_batch_memory import CoversAll
from hedui_sdk import SourceKind
from hedui_sdk.sandbox import Population, generate_population
from hedui_sdk.sandbox.server import current_as_of
from verifier.api.client import Client, request_from_json
from verifier.bootstrap import build_app, serve_app
from verifier.config import BatchesConfig, Config, Principal, sandbox_sources

SEED = 2260
REGION = "370322"
SOURCES = (SourceKind.TAX, SourceKind.SOCIAL_INSURANCE, SourceKind.REAL_ESTATE)
IDLE_CHECKS = 15


def item(pop: Population, index: int, members: int) -> bpb.BatchItem:
    doc = household_request(pop, REGION, index, members)
    req = request_from_json(doc)
    key = f"p5-{uuid.uuid4().hex[:16]}"
    req.request_id = key
    return bpb.BatchItem(item_key=key, request=req)


async def interactive(client: Client, pop: Population, index: int, members: int) -> float:
    """One check with wait, in milliseconds."""
    req = request_from_json(household_request(pop, REGION, index, members), wait=True)
    t0 = time.perf_counter()
    v = await client.create(req)
    ms = (time.perf_counter() - t0) * 1000
    assert v.latest_report_version >= 1, "no report issued"
    return ms


async def measure(
    port: int, pop: Population, households: int, members: int, rate: float, concurrency: int
) -> tuple[float, float, list[float], list[float], int]:
    # One interactive check takes `members` tokens at each source: space them so that, on
    # their own, they use at most two thirds of the rate.
    gap = max(0.25, 1.5 * members / rate)
    sources = {
        k: replace(sc, policy=replace(sc.policy, rate_limit=rate, retries=2, max_concurrency=16))
        for k, sc in sandbox_sources(port).items()
        if k in SOURCES
    }
    with scratch_database("sqlite") as url, tempfile.TemporaryDirectory() as keys:
        cfg = Config(
            database_url=url,
            keys_dir=Path(keys),
            deadline_seconds=60.0,
            principals={SYSTEM: Principal(SYSTEM, ("caseworker",), ("37",))},
            sources=sources,
            volume_soft=10**9,
            volume_hard=10**9,
            batches=BatchesConfig(concurrency=concurrency),
        )
        app = await build_app(cfg, migrate=False, consent_gate=CoversAll())
        server = await serve_app(app, "127.0.0.1:0")
        try:
            async with Client(f"127.0.0.1:{server.port}", user="bench", system=SYSTEM) as c:
                base = households  # interactive households come after the batch's
                for i in range(3):  # warm-up: connections, lazy imports, policy files
                    await interactive(c, pop, base + i, members)
                idle = []
                for i in range(IDLE_CHECKS):
                    idle.append(await interactive(c, pop, base + 3 + i, members))
                    await asyncio.sleep(gap)
                await asyncio.sleep(1.5)  # let the rate limits' buckets fill again
                items = [item(pop, i, members) for i in range(households)]
                t0 = time.perf_counter()
                batch = await c.submit_batch(f"p5-{uuid.uuid4().hex[:12]}", items)
                watching = asyncio.ensure_future(_until_done(c, batch.batch_id))
                busy: list[float] = []
                n = base + 3 + IDLE_CHECKS
                while not watching.done():
                    busy.append(await interactive(c, pop, n, members))
                    n += 1
                    await asyncio.sleep(gap)
                last = await watching
                elapsed = time.perf_counter() - t0
        finally:
            await server.stop(0)
            await app.aclose()
    assert last.progress.done == households, f"batch ended with {last.progress}"
    calls_per_source = (households + len(busy)) * members
    return elapsed, calls_per_source / rate, idle, busy, len(busy)


async def _until_done(c: Client, batch_id: str) -> bpb.Batch:
    last = None
    async for b in c.watch_batch(batch_id):
        last = b
    assert last is not None
    return last


async def main(
    households: int, members: int, rate: float, latency_ms: int, concurrency: int
) -> None:
    per_county = max(150, households + IDLE_CHECKS + 200)
    pop = generate_population(SEED, households_per_county=per_county, as_of=current_as_of())
    port = free_port()
    with sandbox_process(
        port, "--seed", str(SEED), "--households", str(per_county),
        "--latency-ms", str(latency_ms), "--rate-limit", str(rate),
    ):  # fmt: skip
        elapsed, floor, idle, busy, extra = await measure(
            port, pop, households, members, rate, concurrency
        )
    print(
        f"P5  {households:,} households × {members} member(s) × {len(SOURCES)} sandbox sources"
        f" over HTTP, each limited to {rate:g} requests/s and {latency_ms} ms away; SQLite"
    )
    print(f"  batch wall time                          {elapsed:8.1f} s")
    print(
        f"  rate-limit floor                         {floor:8.1f} s"
        f"   ({(households + extra) * members:,} calls per source, {extra} of them interactive)"
    )
    print(ratio_line("P5 batch time / rate-limit floor", elapsed / floor, "≤ 1.15"))
    p50_idle, p50_busy = median(idle), median(busy)
    print(f"P6  interactive checks, p50 idle {p50_idle:7.1f} ms ({len(idle)} checks),"
          f" during the batch {p50_busy:7.1f} ms ({len(busy)} checks)")  # fmt: skip
    print(ratio_line("P6 p50 during the batch / idle p50", p50_busy / p50_idle, "≤ 1.5"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--households", type=int, default=100)
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--rate", type=float, default=12.0, help="requests/s per department")
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=32, help="batch items run at once")
    args = ap.parse_args()
    asyncio.run(main(args.households, args.members, args.rate, args.latency_ms, args.concurrency))
