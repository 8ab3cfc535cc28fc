"""P2 — the full pipeline with in-process, zero-latency sources, against a bare grpc.aio echo.

Each verification: authorize, 4 members × 7 sources in process, assess, sign, audit
(intent and release), store — through the real gRPC server and client. The echo is a
unary grpc.aio service returning its request, driven by the same client loop with the
same concurrency, in the same run. Target: rate ≥ 0.25 × the echo rate.

    .venv/bin/python -m bench.p2_pipeline_rate [--seconds 10] [--concurrency 16] [--db both]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf import wrappers_pb2

from adapters import SourceKind
from adapters.sandbox import Population, generate_population
from adapters.sandbox.server import current_as_of
from bench.common import SYSTEM, ratio_line, running_stack, scratch_database
from bench.households import household_request, register_consents
from bench.inprocess import PopulationAdapter
from verifier.api.client import Client, request_from_json

SOURCES = (
    SourceKind.HOUSEHOLD_REGISTRATION,
    SourceKind.TAX,
    SourceKind.SOCIAL_INSURANCE,
    SourceKind.REAL_ESTATE,
    SourceKind.PROVIDENT_FUND,
    SourceKind.VEHICLE,
    SourceKind.SECURITIES,
)
ECHO = "/bench.Echo/Echo"
HOUSEHOLDS = 140  # distinct applicants (the sandbox county has 150 households)


async def drive(concurrency: int, seconds: float, call: object) -> float:
    """Calls per second over ``seconds`` with ``concurrency`` callers in flight."""
    assert callable(call)
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < stop_at:
            await call(w * 1_000_000 + i)
            i += 1
            done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return done / (time.perf_counter() - t0)


async def echo_rate(concurrency: int, seconds: float) -> float:
    def handler(request: bytes, _ctx: object) -> bytes:
        return request

    async def ahandler(request: bytes, ctx: object) -> bytes:
        return handler(request, ctx)

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(ahandler)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    payload = wrappers_pb2.StringValue(value="x" * 600).SerializeToString()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        echo = ch.unary_unary(ECHO)

        async def call(_i: int) -> None:
            await echo(payload, timeout=10)

        await drive(concurrency, 1.0, call)  # warm-up
        rate = await drive(concurrency, seconds, call)
    await server.stop(0)
    return rate


async def pipeline_rate(kind: str, pop: Population, concurrency: int, seconds: float) -> float:
    adapters = {k: PopulationAdapter(k, pop) for k in SOURCES}
    with scratch_database(kind) as url, tempfile.TemporaryDirectory() as keys:
        async with (
            running_stack(url, Path(keys), adapters=adapters) as (_app, server),
            Client(f"127.0.0.1:{server.port}", user="bench", system=SYSTEM) as c,
        ):
            await register_consents(c, pop, "370322", range(HOUSEHOLDS))

            async def call(i: int) -> None:
                v = await c.create(
                    request_from_json(household_request(pop, "370322", i % HOUSEHOLDS), wait=True)
                )
                assert v.latest_report_version == 1

            await drive(concurrency, 1.0, call)  # warm-up
            return await drive(concurrency, seconds, call)


async def main(seconds: float, concurrency: int, dbs: list[str]) -> None:
    pop = generate_population(2260, households_per_county=150, as_of=current_as_of())
    print(
        f"P2  full pipeline, 4 members × {len(SOURCES)} in-process sources, {concurrency} in flight"
    )
    for kind in dbs:
        echo = await echo_rate(concurrency, seconds)
        rate = await pipeline_rate(kind, pop, concurrency, seconds)
        print(f"  {kind:<10} echo {echo:9.1f}/s   pipeline {rate:8.1f} verifications/s")
        print(ratio_line(f"{kind}: pipeline / echo", rate / echo, "≥ 0.25"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    a = ap.parse_args()
    asyncio.run(
        main(a.seconds, a.concurrency, ["sqlite", "postgresql"] if a.db == "both" else [a.db])
    )
