"""What metrics and tracing cost a call: a unary grpc.aio echo served four ways in one run.

- bare: the echo alone;
- access: with the access interceptor (request id, access line filtered by level), no
  metrics — what every server runs;
- metrics: plus the Prometheus gRPC metrics (``[metrics] listen`` set);
- traced: plus OpenTelemetry tracing of every call (``[tracing]`` set, sample ratio 1,
  spans batched to an exporter that drops them).

The four run in interleaved rounds with the same client loop and concurrency; the
figures are the median rates over the rounds, and the ratios are to the bare echo's.

    .venv/bin/python -m bench.observability_overhead [--seconds 2] [--rounds 5] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from bench.common import median
from verifier.api.access import AccessInterceptor
from verifier.observability import tracing
from verifier.observability.metrics import Metrics

ECHO = "/bench.Echo/Echo"
VARIANTS = ("bare", "access", "metrics", "traced")


class _Dropped(SpanExporter):
    """An exporter that keeps nothing: the cost measured is hedui's, not a collector's."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


async def _echo(request: bytes, _context: Any) -> bytes:
    return request


async def rate(variant: str, concurrency: int, seconds: float) -> float:
    """Echo calls per second served as ``variant``."""
    if variant == "traced":
        tracing.enable(_Dropped())
    interceptors = [] if variant == "bare" else [
        AccessInterceptor(Metrics() if variant in ("metrics", "traced") else None)
    ]  # fmt: skip
    server = grpc.aio.server(interceptors=interceptors)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    done = 0
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(ECHO)
            await call(b"warm-up", timeout=10)
            stop_at = time.perf_counter() + seconds

            async def worker() -> None:
                nonlocal done
                while time.perf_counter() < stop_at:
                    await call(b"x" * 64, timeout=10)
                    done += 1

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - began
    finally:
        await server.stop(0)
        if variant == "traced":
            tracing.disable()
    return done / elapsed


async def run(seconds: float, rounds: int, concurrency: int) -> None:
    rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(rounds):
        for variant in VARIANTS:
            rates[variant].append(await rate(variant, concurrency, seconds))
    bare = median(rates["bare"])
    print(f"unary echo, {concurrency} callers, {rounds} rounds of {seconds:g} s each (medians)")
    for variant in VARIANTS:
        r = median(rates[variant])
        # Client and server share one event loop, busy throughout: the time a call costs
        # is 1/rate, and what a variant adds is the difference.
        added_us = (1 / r - 1 / bare) * 1e6
        print(
            f"  {variant:<8} {r:>9.0f} calls/s   {r / bare:5.3f} x bare"
            + (f"   {added_us:+6.1f} µs per call" if variant != "bare" else "")
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=16)
    args = p.parse_args()
    asyncio.run(run(args.seconds, args.rounds, args.concurrency))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
