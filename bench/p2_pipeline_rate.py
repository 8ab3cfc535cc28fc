"""P2 — the full pipeline with in-process, zero-latency sources, against a bare grpc.aio echo.

Each verification: authorize, 4 members × 7 sources in process, assess, sign, audit
(intent and release), store — through the real gRPC server and client. The echo is a
unary grpc.aio service returning its request, driven by the same client loop with the
same concurrency, in the same run. Target: rate ≥ 0.06 × the echo rate, on SQLite and on
PostgreSQL.

Then, per database, the CPU milliseconds one verification costs, split by phase
(:mod:`bench.p2_phases`; checks one at a time, so each phase's CPU is its own).

It also prints two ceilings measured in the same run, for reading that ratio: the echo
with a fan-out of no-op tasks inside each call (the skeleton of a verification), and the
CPU time of one household's assessment on its own (the policy engine, exact arithmetic).

    .venv/bin/python -m bench.p2_pipeline_rate [--seconds 10] [--concurrency 16] [--db both]
        [--phase-checks 40] [--statements]

``--seconds 0`` prints the split (CPU and statements per phase) alone.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import grpc
from google.protobuf import wrappers_pb2

from bench.common import SYSTEM, median, ratio_line, running_stack, scratch_database
from bench.households import household_request, register_consents
from bench.inprocess import PopulationAdapter
from bench.p2_phases import (
    StatementCount,
    phase_clock,
    print_checkouts,
    print_split,
    print_statements,
    split_ms,
    statements_per_check,
    uncounted,
)
from hedui_sdk import SourceKind
from hedui_sdk.sandbox import Population, generate_population
from hedui_sdk.sandbox.server import current_as_of
from verifier.api.client import Client, request_from_json
from verifier.api.translate import draft_from_pb
from verifier.domain.household import validate_request
from verifier.domain.ports import Store
from verifier.service.assessment import assess_report_sections
from verifier.service.fanout import FanOut, bind_sources

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


async def _nothing() -> None:
    return None


async def echo_rate(concurrency: int, seconds: float, *, tasks_per_call: int = 0) -> float:
    """The bare echo; with ``tasks_per_call``, each call first runs that many no-op
    tasks in a TaskGroup (the skeleton of a fan-out with nothing inside it)."""

    async def ahandler(request: bytes, _ctx: object) -> bytes:
        if tasks_per_call:
            async with asyncio.TaskGroup() as tg:
                for _ in range(tasks_per_call):
                    tg.create_task(_nothing())
        return request

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
        echo: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = ch.unary_unary(ECHO)

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


async def phase_split(
    kind: str, pop: Population, checks: int, count: StatementCount
) -> tuple[dict[str, float], float]:
    """CPU milliseconds per verification by phase, and in all, over ``checks`` checks made
    one at a time (after a warm-up); ``count`` gets their statements."""
    adapters = {k: PopulationAdapter(k, pop) for k in SOURCES}
    with (
        phase_clock() as clock,
        count,
        scratch_database(kind) as url,
        tempfile.TemporaryDirectory() as keys,
    ):
        async with (
            running_stack(url, Path(keys), adapters=adapters) as (app, server),
            Client(f"127.0.0.1:{server.port}", user="bench", system=SYSTEM) as c,
        ):
            await register_consents(c, pop, "370322", range(HOUSEHOLDS))

            async def check(i: int) -> None:
                req = request_from_json(household_request(pop, "370322", i % HOUSEHOLDS), wait=True)
                v = await c.create(req)
                assert v.latest_report_version == 1

            for i in range(HOUSEHOLDS):  # every household once: later checks compare
                await check(i)
            await comparisons_done(app.store)
            clock.seconds.clear()
            count.clear()
            cpu0 = time.process_time()
            for i in range(checks):
                await check(i)
            # Each check's comparison with the household's previous one runs after its
            # release, in the background: counted once they are all made.
            await comparisons_done(app.store)
            cpu = time.process_time() - cpu0
    return split_ms(clock, cpu, checks), 1000 * cpu / checks


async def comparisons_done(store: Store) -> None:
    """Returns once no change comparison is waiting (its reads not counted)."""

    async def waiting() -> bool:
        async with store.unit_of_work(write=False) as uow:
            return await uow.changes.has_pending(datetime.now(UTC))

    # Polled: the comparisons run in the server's background task, which tells no one.
    while True:
        if not await uncounted(waiting()):
            return
        await asyncio.sleep(0.005)


async def assessment_ms(pop: Population, samples: int = 60) -> float:
    """CPU milliseconds of one household's assessment (the policy engine alone)."""
    adapters = {k: PopulationAdapter(k, pop) for k in SOURCES}
    fanout = FanOut(bind_sources(dict(adapters), {}))
    today = date.today()
    cases = []
    for i in range(samples):
        draft = draft_from_pb(request_from_json(household_request(pop, "370322", i), wait=True))
        request = validate_request(draft, today=today)
        outcomes = await fanout.run(request, request_id="bench", deadline=time.monotonic() + 10)
        cases.append((request, outcomes))
    times = []
    for request, outcomes in cases:
        t0 = time.perf_counter()
        assess_report_sections(request, outcomes, today)
        times.append((time.perf_counter() - t0) * 1000)
    return median(times)


async def main(
    seconds: float, concurrency: int, dbs: list[str], phase_checks: int, show_statements: bool
) -> None:
    pop = generate_population(2260, households_per_county=150, as_of=current_as_of())
    if seconds > 0:  # else the split alone
        await rates(pop, seconds, concurrency, dbs)
    for kind in dbs:
        count = StatementCount()
        split, total = await phase_split(kind, pop, phase_checks, count)
        print_split(kind, split, total, statements_per_check(count, phase_checks))
        print_checkouts(kind, count, phase_checks)
        if show_statements:
            print_statements(count, phase_checks)


async def rates(pop: Population, seconds: float, concurrency: int, dbs: list[str]) -> None:
    """The pipeline's rate against the echo's per database, then the ceilings."""
    print(
        f"P2  full pipeline, 4 members × {len(SOURCES)} in-process sources, {concurrency} in flight"
    )
    for kind in dbs:
        echo = await echo_rate(concurrency, seconds)
        rate = await pipeline_rate(kind, pop, concurrency, seconds)
        print(f"  {kind:<10} echo {echo:9.1f}/s   pipeline {rate:8.1f} verifications/s")
        print(ratio_line(f"{kind}: pipeline / echo", rate / echo, "≥ 0.06"))
    # Ceilings, for reading the ratio: what parts of a verification cost on their own.
    echo = await echo_rate(concurrency, seconds)
    calls = 4 * len(SOURCES)
    skeleton = await echo_rate(concurrency, seconds, tasks_per_call=calls)
    assess = await assessment_ms(pop)
    print(f"  ceilings   echo {echo:9.1f}/s   echo + {calls} no-op tasks {skeleton:8.1f}/s")
    print(ratio_line(f"echo + {calls} no-op tasks / echo", skeleton / echo, "—"))
    print(
        f"  the assessment alone: {assess:.2f} ms CPU per household,"
        f" at most {1000 / assess:.0f}/s on one core"
    )
    print(ratio_line("assessment-only rate / echo", 1000 / assess / echo, "—"))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--phase-checks", type=int, default=40, help="checks timed for the split")
    ap.add_argument(
        "--statements", action="store_true", help="list each statement's count per check"
    )
    a = ap.parse_args()
    dbs = ["sqlite", "postgresql"] if a.db == "both" else [a.db]
    asyncio.run(main(a.seconds, a.concurrency, dbs, a.phase_checks, a.statements))
