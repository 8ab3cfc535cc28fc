"""P1 — a household of 4 × 7 sources, each source 50 ms away over loopback HTTP.

End-to-end latency of CreateVerification(wait) through the real gRPC client, the real
reference adapters and the sandbox, against the bare fan-out measured in the same run:
the same 28 adapter calls at once, with no hedui code around them. Target: p50 ≤ 1.15×
the bare fan-out's p50, p99 ≤ 1.3× its p99.

    .venv/bin/python -m bench.p1_fanout_latency [--requests 60] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from bench.common import (
    SYSTEM,
    free_port,
    median,
    percentile,
    ratio_line,
    running_stack,
    sandbox_process,
    scratch_database,
)
from bench.households import household_request, register_consents
from hedui_sdk import SourceKind, SourceQuery, Window
from hedui_sdk.builtin import FACTORIES
from hedui_sdk.sandbox import Person, Population, generate_population
from hedui_sdk.sandbox.server import current_as_of
from verifier.api.client import Client, request_from_json
from verifier.config import sandbox_sources

SEED = 2260
HOUSEHOLDS = 120  # per county: every request's applicant is a different household
SOURCES = (
    SourceKind.TAX,
    SourceKind.SOCIAL_INSURANCE,
    SourceKind.REAL_ESTATE,
    SourceKind.BUSINESS_REGISTRATION,
    SourceKind.PROVIDENT_FUND,
    SourceKind.VEHICLE,
    SourceKind.SECURITIES,
)


def _query(person: Person, window: Window) -> SourceQuery:
    return SourceQuery(
        person.subject, window, "370322", ("dibao",), uuid.uuid4().hex, time.monotonic() + 5
    )


async def source_latencies(port: int, pop: Population, samples: int) -> tuple[float, list[float]]:
    """The slowest source's median over direct single calls, and the latencies of a bare
    fan-out: the same 4 × 7 direct adapter calls at once, with nothing of hedui around
    them (what the HTTP exchanges alone cost when made together)."""
    persons = list(pop.persons())
    window = Window(pop.as_of - timedelta(days=364), pop.as_of)
    settings = sandbox_sources(port)
    adapters = {kind: FACTORIES[kind](settings[kind].settings()) for kind in SOURCES}
    try:
        medians = {}
        for kind, adapter in adapters.items():
            times = []
            for _ in range(samples):
                q = _query(persons[0], window)
                t0 = time.perf_counter()
                await adapter.query(q)
                times.append((time.perf_counter() - t0) * 1000)
            medians[kind] = median(times[2:])
        together = []
        for n in range(samples + 2):
            members = persons[4 * n : 4 * n + 4]
            t0 = time.perf_counter()
            await asyncio.gather(
                *(a.query(_query(p, window)) for p in members for a in adapters.values())
            )
            together.append((time.perf_counter() - t0) * 1000)
    finally:
        for adapter in adapters.values():
            await adapter.aclose()
    return max(medians.values()), together[2:]  # the first two warm connections up


async def measure(port: int, pop: Population, requests: int) -> list[float]:
    sources = {k: v for k, v in sandbox_sources(port).items() if k in SOURCES}
    with scratch_database("sqlite") as url, tempfile.TemporaryDirectory() as keys:
        async with (
            running_stack(url, Path(keys), sources=sources) as (_app, server),
            Client(f"127.0.0.1:{server.port}", user="bench", system=SYSTEM) as c,
        ):
            await register_consents(c, pop, "370322", range(5 + requests))
            for i in range(5):  # warm-up: connections and lazy imports
                await c.create(request_from_json(household_request(pop, "370322", i), wait=True))
            lat = []
            for i in range(requests):
                req = request_from_json(household_request(pop, "370322", 5 + i), wait=True)
                t0 = time.perf_counter()
                v = await c.create(req)
                lat.append((time.perf_counter() - t0) * 1000)
                assert v.latest_report_version == 1, "no report issued"
    return lat


async def main(requests: int, latency_ms: int) -> None:
    # The same population the sandbox process generates (same seed, same date).
    pop = generate_population(SEED, households_per_county=HOUSEHOLDS, as_of=current_as_of())
    port = free_port()
    with sandbox_process(
        port, "--seed", str(SEED), "--households", str(HOUSEHOLDS), "--latency-ms", str(latency_ms)
    ):
        slowest, bare = await source_latencies(port, pop, requests)
        lat = await measure(port, pop, requests)
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    bare50, bare99 = percentile(bare, 50), percentile(bare, 99)
    print(
        f"P1  4 members × {len(SOURCES)} sources, each {latency_ms} ms away"
        " (hedui sandbox process, loopback HTTP), SQLite"
    )
    print(f"  slowest source, direct call, median      {slowest:8.1f} ms")
    print(f"  bare fan-out, 28 calls at once   p50 {bare50:8.1f} ms   p99 {bare99:8.1f} ms")
    print(f"  end to end over gRPC             p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
    over50, over99 = p50 - bare50, p99 - bare99
    print(f"  hedui's overhead (the difference)  p50 {over50:8.1f} ms   p99 {over99:8.1f} ms")
    print(f"  ({requests} samples each)")
    print(ratio_line("p50 / bare fan-out p50", p50 / bare50, "≤ 1.15"))
    print(ratio_line("p99 / bare fan-out p99", p99 / bare99, "≤ 1.3"))
    print(ratio_line("bare fan-out p50 / slowest source (context)", bare50 / slowest, "—"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--latency-ms", type=int, default=50)
    args = ap.parse_args()
    asyncio.run(main(args.requests, args.latency_ms))
