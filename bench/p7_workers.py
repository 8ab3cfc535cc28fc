"""P7 — `hedui serve --workers N` on PostgreSQL: verifications per second for 1, 2, … N
workers, and the scaling ratio of each against one worker, measured in the same run.

Each step: a fresh PostgreSQL database, `hedui serve --workers n` as a real process, the
sandbox departments in a process of their own (no added latency), and the load from
``--clients`` client processes, each keeping ``--concurrency`` checks of 4 members in
flight over as many channels, each channel on its own TCP connection (the kernel spreads
connections, not calls, across workers, and gRPC otherwise carries all of a process's
channels to one target on one connection: two load processes were two connections, both
on one worker half the time). On a machine with fewer cores than workers + sandbox +
clients the ratio shows that machine's limit, not hedui's: the cores are printed with the
figures.

    .venv/bin/python -m bench.p7_workers [--max-workers 2] [--seconds 10] [--clients 2]
        [--concurrency 8] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import grpc

from bench.common import SYSTEM, free_port, ratio_line, sandbox_process, scratch_database
from bench.households import household_request, register_consents
from hedui_sdk import SourceKind
from hedui_sdk.sandbox import generate_population
from hedui_sdk.sandbox.server import current_as_of
from verifier.api.channel import OWN_CONNECTION
from verifier.api.client import Client, request_from_json

SEED = 2260
HOUSEHOLDS = 120  # per county, as the sandbox process below is told
REGION = "370322"
SOURCES = (
    SourceKind.HOUSEHOLD_REGISTRATION,
    SourceKind.TAX,
    SourceKind.SOCIAL_INSURANCE,
    SourceKind.REAL_ESTATE,
    SourceKind.PROVIDENT_FUND,
    SourceKind.VEHICLE,
    SourceKind.SECURITIES,
)
BANNER = re.compile(rb"hedui serving on port (\d+)")


def config_text(database_url: str, keys: Path, port: int, sandbox_port: int) -> str:
    sources = "".join(
        f'[sources.{k.value}]\nbase_url = "http://127.0.0.1:{sandbox_port}/{k.value}"\n'
        f'credentials = {{ token = "value:sandbox-{k.value}-token" }}\n\n'
        for k in SOURCES
    )
    return f"""
[server]
listen = "127.0.0.1:{port}"
deadline_seconds = 30

[database]
url = "{database_url}"

[keys]
dir = "{keys}"

[tls]
mode = "development"
insecure_plaintext = true

[principals.{SYSTEM}]
roles = ["caseworker"]
regions = ["37"]

[limits]
per_user_daily_soft = 1000000000
per_user_daily_hard = 1000000000

{sources}"""


def _client_process(
    target: str, concurrency: int, seconds: float, out: Connection, go: EventType
) -> None:
    """One load process: ``concurrency`` callers, each on a channel of its own. Says it is
    ready once set up (imports, population, connections), starts on ``go``, and sends how
    many checks finished in its ``seconds``."""
    pop = generate_population(SEED, households_per_county=HOUSEHOLDS, as_of=current_as_of())

    async def run() -> int:
        done = 0
        clients = [
            Client(target, user=f"bench{w}", system=SYSTEM, options=OWN_CONNECTION)
            for w in range(concurrency)
        ]
        out.send("ready")
        await asyncio.to_thread(go.wait)
        stop_at = time.perf_counter() + seconds

        async def caller(w: int, c: Client) -> None:
            nonlocal done
            i = w
            while time.perf_counter() < stop_at:
                doc = household_request(pop, REGION, i % HOUSEHOLDS)
                v = await c.create(request_from_json(doc, wait=True), timeout=60)
                assert v.latest_report_version == 1
                done += 1
                i += concurrency

        try:
            await asyncio.gather(*(caller(w, c) for w, c in enumerate(clients)))
        finally:
            for c in clients:
                await c.close()
        return done

    out.send(asyncio.run(run()))


def drive(target: str, clients: int, concurrency: int, seconds: float) -> float:
    """Verifications per second from ``clients`` processes started together; each counts
    the checks it finished within the same ``seconds`` (set-up is not timed)."""
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    pipes = []
    procs = []
    for _ in range(clients):
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_client_process, args=(target, concurrency, seconds, w, go))
        p.start()
        w.close()
        pipes.append(r)
        procs.append(p)
    for r in pipes:
        assert r.recv() == "ready"
    go.set()
    # A check under way when the time is up still finishes and counts: a little over.
    total = sum(int(r.recv()) for r in pipes)
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a load process failed (exit code {p.exitcode})")
    return total / seconds


async def _prepare(target: str) -> None:
    pop = generate_population(SEED, households_per_county=HOUSEHOLDS, as_of=current_as_of())
    async with grpc.aio.insecure_channel(target) as ch:
        await asyncio.wait_for(ch.channel_ready(), 60)
    async with Client(target, user="bench", system=SYSTEM) as c:
        await register_consents(c, pop, REGION, range(HOUSEHOLDS))


def rate_with(workers: int, sandbox_port: int, args: argparse.Namespace) -> float:
    with scratch_database("postgresql") as url, tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "hedui.toml"
        cfg.write_text(config_text(url, Path(d) / "keys", free_port(), sandbox_port))
        serve = ["--config", str(cfg), "serve", "--workers", str(workers)]
        server = subprocess.Popen(
            [sys.executable, "-m", "verifier.cli.main", *serve],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HEDUI_LOG_LEVEL": "ERROR"},
        )
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            m = BANNER.search(line)
            if m is None:
                raise RuntimeError(f"the server did not start: {line!r}")
            target = f"127.0.0.1:{int(m.group(1))}"
            asyncio.run(_prepare(target))
            drive(target, args.clients, args.concurrency, 2.0)  # warm-up
            return drive(target, args.clients, args.concurrency, args.seconds)
        finally:
            server.terminate()
            server.wait(60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max-workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=2, help="load processes")
    ap.add_argument("--concurrency", type=int, default=8, help="checks in flight per process")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every worker count this many times, in alternating order, and compare"
        " medians (on a machine whose other load drifts, one pass credits the drift to the"
        " worker count measured later)",
    )
    args = ap.parse_args()
    print(
        f"P7  hedui serve --workers N on PostgreSQL, 4 members × {len(SOURCES)} sandbox sources,"
        f" {args.clients} × {args.concurrency} in flight; {os.cpu_count()} cores"
        f" (shared with the sandbox and the load), load average {os.getloadavg()[0]:.1f}"
    )
    counts = list(range(1, args.max_workers + 1))
    port = free_port()
    with sandbox_process(port, "--seed", str(SEED), "--households", str(HOUSEHOLDS)):
        rates: dict[int, list[float]] = {n: [] for n in counts}
        for r in range(args.rounds):
            for n in counts if r % 2 == 0 else reversed(counts):
                rates[n].append(rate_with(n, port, args))
                print(f"  {n} worker{'s' if n > 1 else ' '}  {rates[n][-1]:8.1f} verifications/s")
        median = {n: statistics.median(rs) for n, rs in rates.items()}
        if args.rounds > 1:
            for n in counts:
                print(f"  {n} worker{'s' if n > 1 else ' '}  {median[n]:8.1f} median")
        for n in counts[1:]:
            print(ratio_line(f"{n} workers / 1 worker", median[n] / median[1], f"ideal {n}"))
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
