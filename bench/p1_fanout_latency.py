"""P1 — a household of 4 × 7 sources, each source 50 ms away over loopback HTTP.

End-to-end latency of CreateVerification(wait) through the real gRPC client, the real
reference adapters and the sandbox, against the slowest source measured directly in the
same run. Target: p50 ≤ 1.3×, p99 ≤ 1.6× the slowest source.

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

from adapters import SourceKind, SourceQuery, Window
from adapters.builtin import FACTORIES
from adapters.sandbox import Population, generate_population
from adapters.sandbox.server import current_as_of
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


async def slowest_source_ms(port: int, pop: Population, samples: int) -> float:
    """Median latency of one direct adapter call per source; the slowest source's median."""
    person = next(iter(pop.persons()))
    window = Window(pop.as_of - timedelta(days=364), pop.as_of)
    settings = sandbox_sources(port)
    medians = {}
    for kind in SOURCES:
        adapter = FACTORIES[kind](settings[kind].settings())
        times = []
        try:
            for _ in range(samples):
                q = SourceQuery(
                    person.subject, window, "370322", ("dibao",), uuid.uuid4().hex,
                    time.monotonic() + 5,
                )  # fmt: skip
                t0 = time.perf_counter()
                await adapter.query(q)
                times.append((time.perf_counter() - t0) * 1000)
        finally:
            await adapter.aclose()
        medians[kind] = median(times[2:])
    return max(medians.values())


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
        slowest = await slowest_source_ms(port, pop, 22)
        lat = await measure(port, pop, requests)
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    print(
        f"P1  4 members × {len(SOURCES)} sources, each {latency_ms} ms away"
        " (hedui sandbox process, loopback HTTP), SQLite"
    )
    print(f"  slowest source, direct call, median      {slowest:8.1f} ms")
    print(f"  end to end over gRPC, {requests} requests     p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
    print(ratio_line("p50 / slowest source", p50 / slowest, "≤ 1.3"))
    print(ratio_line("p99 / slowest source", p99 / slowest, "≤ 1.6"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--latency-ms", type=int, default=50)
    args = ap.parse_args()
    asyncio.run(main(args.requests, args.latency_ms))
