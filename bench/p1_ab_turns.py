"""P1 with and without background turns, A/B in one run (:mod:`verifier.service.turns`).

The same calls as :mod:`bench.p1_fanout_latency` (back to back, 4 members × 7 sources,
each 50 ms away), in rounds: a bare fan-out, then a fresh stack whose change comparisons
run at once (A: what they did before turns), then one whose comparisons take their turns
(B). Alternating within one run, so that a machine whose load changes slows A and B
alike. Turns are switched off here by replacing :meth:`BackgroundTurns.take` in this
process; production code has no switch.

    .venv/bin/python -m bench.p1_ab_turns [--rounds 3] [--requests 40]
"""

from __future__ import annotations

import argparse
import asyncio

from bench.common import free_port, percentile, sandbox_process
from bench.p1_fanout_latency import HOUSEHOLDS, SEED, measure, source_latencies
from hedui_sdk.sandbox import generate_population
from hedui_sdk.sandbox.server import current_as_of
from verifier.service.turns import BackgroundTurns

TAKE = BackgroundTurns.take


async def _at_once(self: BackgroundTurns) -> None:
    """A turn given at once: background work runs whenever it is ready (A)."""


async def main(rounds: int, requests: int) -> None:
    pop = generate_population(SEED, households_per_county=HOUSEHOLDS, as_of=current_as_of())
    port = free_port()
    runs: dict[str, list[float]] = {"A  at once": [], "B  in turns": []}
    bare: list[float] = []
    with sandbox_process(
        port, "--seed", str(SEED), "--households", str(HOUSEHOLDS), "--latency-ms", "50"
    ):
        for _ in range(rounds):
            bare += (await source_latencies(port, pop, 20))[1]
            for label, lat in runs.items():
                BackgroundTurns.take = _at_once if label.startswith("A") else TAKE  # type: ignore[method-assign]
                lat += await measure(port, pop, requests)
    BackgroundTurns.take = TAKE  # type: ignore[method-assign]
    b50, b99 = percentile(bare, 50), percentile(bare, 99)
    print(f"P1 background turns A/B, {rounds} rounds × {requests} calls each, back to back")
    print(f"  bare fan-out            p50 {b50:7.1f} ms              p99 {b99:7.1f} ms")
    for label, lat in runs.items():
        p50, p90, p99 = (percentile(lat, q) for q in (50, 90, 99))
        print(
            f"  {label:<12} p50 {p50:7.1f} ms ({p50 / b50:.3f}×)  p90 {p90:7.1f}"
            f"  p99 {p99:7.1f} ms ({p99 / b99:.3f}×)"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=40)
    args = ap.parse_args()
    asyncio.run(main(args.rounds, args.requests))
