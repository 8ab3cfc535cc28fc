"""P1's critical path: where hedui's time goes between the RPC and its reply.

The same set-up as :mod:`bench.p1_fanout_latency` (4 members × 7 sources over loopback
HTTP, the sandbox in its own process, SQLite), but each end-to-end call is paired with a
bare fan-out made just before it, so a loaded machine slows both alike; and the stages
of every call are timed with :func:`time.perf_counter` marks put in by wrapping methods
here, in the benchmark (production code carries no marks):

    client sent → RPC handler → intent write → run started → first HTTP call leaves →
    last HTTP answer → fan-out returned → report made → release write → run done →
    handler returns → client has the reply

    .venv/bin/python -m bench.p1_critical_path [--requests 40] [--latency-ms 50]
        [--back-to-back] [--marks] [--profile]

Each stage is printed with its wall-clock p50/p90/max and the CPU time this thread spent
in it (p50): where the two differ the stage waited (fsync, the sandbox, other processes
on a loaded machine). ``--back-to-back`` times the calls one after another, as
p1_fanout_latency does, where background work after a release (change comparisons)
lands on the next call. ``--profile`` runs cProfile over one stretch of every call,
between two marks named by ``P1_PROFILE_SPAN`` (default ``fanout_out,rpc_out``), sorted
by ``P1_SORT`` (default ``tottime``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import os
import pstats
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    SYSTEM,
    free_port,
    percentile,
    running_stack,
    sandbox_process,
    scratch_database,
)
from bench.households import household_request, register_consents
from bench.p1_fanout_latency import HOUSEHOLDS, SEED, SOURCES, _query
from hedui_sdk import Window
from hedui_sdk.builtin import FACTORIES
from hedui_sdk.builtin.gateway import GatewayAdapter
from hedui_sdk.sandbox import generate_population
from hedui_sdk.sandbox.server import current_as_of
from verifier.api.client import Client, request_from_json
from verifier.api.servicers import VerificationServicer
from verifier.config import sandbox_sources
from verifier.service.fanout import FanOut
from verifier.service.intake import Intake
from verifier.service.release import Release
from verifier.service.runner import Runner, _Done
from verifier.storage.uow import SqlStore

# The marks of the call being timed: name → first (or, for "last_*", latest) instant.
marks: dict[str, float] = {}
cpu: dict[str, float] = {}  # the same marks in this thread's CPU time
active = False


profiler: Any = None
# The stretch of a call to profile (--profile): from the first mark to the second.
PROFILE_SPAN = tuple(os.environ.get("P1_PROFILE_SPAN", "fanout_out,rpc_out").split(","))


def mark(name: str, *, latest: bool = False) -> None:
    if not active:
        return
    if profiler is not None:
        if name == PROFILE_SPAN[0]:
            profiler.enable()
        elif name == PROFILE_SPAN[1]:
            profiler.disable()
    now = time.perf_counter()
    if latest or name not in marks:
        marks[name] = now
        cpu[name] = time.thread_time()


def around(cls: type, name: str, before: str, after: str, *, every: bool = False) -> None:
    """Wrap the coroutine method ``cls.name`` with a mark before and after it."""
    original: Callable[..., Any] = getattr(cls, name)

    @functools.wraps(original)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        mark(before)
        try:
            return await original(*args, **kwargs)
        finally:
            mark(after, latest=every)

    setattr(cls, name, wrapped)


durations: dict[str, float] = {}


def timed(owner: Any, name: str, label: str) -> None:
    """Add the time spent in the plain function ``owner.name`` to ``durations[label]``."""
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not active:
            return original(*args, **kwargs)
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            durations[label] = durations.get(label, 0.0) + time.perf_counter() - t0

    setattr(owner, name, wrapped)


def instrument() -> None:
    import verifier.service.release as release_module
    from verifier.signing.signer import ReportSigner

    timed(release_module, "build_report", "build_report")
    timed(ReportSigner, "sign", "sign")
    import verifier.bootstrap as bootstrap_module

    timed(bootstrap_module, "assess_report_sections", "assess")
    around(VerificationServicer, "CreateVerification", "rpc_in", "rpc_out")
    around(Intake, "_record_intent", "intent_work_in", "intent_work_out")
    around(Runner, "_reusable", "reusable_in", "reusable_out")
    around(FanOut, "run", "fanout_in", "fanout_out")
    around(FanOut, "_answer", "first_answer_in", "last_answer_out", every=True)
    around(GatewayAdapter, "_exchange", "first_http_out", "last_http_in", every=True)
    around(Release, "release", "release_in", "release_out")
    around(Release, "_release_in", "release_work_in", "release_work_out")

    writes: Callable[..., Any] = SqlStore.write

    @functools.wraps(writes)
    async def write(self: SqlStore, work: Any) -> Any:
        # Named by whose work it is: background writes (monitoring, webhooks) also
        # happen while a call is timed.
        who = getattr(work, "__qualname__", "").split(".")[0].lower()
        mark(f"write_{who}_in")
        try:
            return await writes(self, work)
        finally:
            mark(f"write_{who}_out")

    SqlStore.write = write  # type: ignore[method-assign]

    start: Callable[..., Any] = Runner.start

    def started(self: Runner, *args: Any, **kwargs: Any) -> Any:
        mark("run_start")
        return start(self, *args, **kwargs)

    Runner.start = started  # type: ignore[method-assign]

    made: Callable[..., Any] = Release._made

    def made_timed(self: Release, *args: Any, **kwargs: Any) -> Any:
        mark("made_in")
        try:
            return made(self, *args, **kwargs)
        finally:
            mark("made_out")

    Release._made = made_timed  # type: ignore[method-assign]

    done_set = _Done.set

    def set_done(self: _Done) -> None:
        mark("done_set")
        done_set(self)

    _Done.set = set_done  # type: ignore[method-assign]


STAGES = (
    ("client → handler", "sent", "rpc_in"),
    ("handler → intent work runs", "rpc_in", "intent_work_in"),
    ("intent work (consent, inserts, audit)", "intent_work_in", "intent_work_out"),
    ("intent work → write returns (commit)", "intent_work_out", "write_intake_out"),
    ("write returns → run task starts asking", "write_intake_out", "reusable_in"),
    ("reuse lookup", "reusable_in", "reusable_out"),
    ("→ fan-out entered", "reusable_out", "fanout_in"),
    ("fan-out → first HTTP call leaves", "fanout_in", "first_http_out"),
    ("HTTP calls (first out → last in)", "first_http_out", "last_http_in"),
    ("last HTTP in → last outcome made", "last_http_in", "last_answer_out"),
    ("→ fan-out returns", "last_answer_out", "fanout_out"),
    ("→ release entered", "fanout_out", "release_in"),
    ("report made (assess, build, sign)", "made_in", "made_out"),
    ("made → release work runs", "made_out", "release_work_in"),
    ("release work (statements)", "release_work_in", "release_work_out"),
    ("release work → write returns (commit)", "release_work_out", "write_release_out"),
    ("write → release returns", "write_release_out", "release_out"),
    ("release → run done", "release_out", "done_set"),
    ("run done → handler returns", "done_set", "rpc_out"),
    ("handler returns → client has reply", "rpc_out", "received"),
)


async def main(
    requests: int, latency_ms: int, profile: bool, show: bool, back_to_back: bool
) -> None:
    global active, profiler
    if profile:
        profiler = cProfile.Profile()
    pop = generate_population(SEED, households_per_county=HOUSEHOLDS, as_of=current_as_of())
    persons = list(pop.persons())
    window = Window(pop.as_of - timedelta(days=364), pop.as_of)
    port = free_port()
    instrument()
    t = Timings()
    with sandbox_process(
        port, "--seed", str(SEED), "--households", str(HOUSEHOLDS), "--latency-ms", str(latency_ms)
    ):
        settings = sandbox_sources(port)
        bare_adapters = [FACTORIES[kind](settings[kind].settings()) for kind in SOURCES]
        sources = {k: v for k, v in settings.items() if k in SOURCES}
        with scratch_database("sqlite") as url, tempfile.TemporaryDirectory() as keys:
            async with (
                running_stack(url, Path(keys), sources=sources) as (_app, server),
                Client(f"127.0.0.1:{server.port}", user="bench", system=SYSTEM) as c,
            ):
                await register_consents(c, pop, "370322", range(5 + requests))
                for n in range(5 + requests):
                    warm_up = n < 5  # connections and lazy imports
                    if warm_up or not back_to_back:
                        members = persons[4 * n : 4 * n + 4]
                        w0, c0 = time.perf_counter(), time.thread_time()
                        await asyncio.gather(
                            *(a.query(_query(p, window)) for p in members for a in bare_adapters)
                        )
                        if back_to_back or not warm_up:
                            t.bare.append((time.perf_counter() - w0) * 1000)
                            t.bare_cpu.append((time.thread_time() - c0) * 1000)
                    req = request_from_json(household_request(pop, "370322", n), wait=True)
                    marks.clear()
                    cpu.clear()
                    durations.clear()
                    active = True
                    mark("sent")
                    await c.create(req)
                    mark("received")
                    active = False
                    if not warm_up:
                        t.e2e.append((marks["received"] - marks["sent"]) * 1000)
                        t.rows.append(dict(marks))
                        t.cpu_rows.append(dict(cpu))
                        t.spent.append(dict(durations))
        for a in bare_adapters:
            await a.aclose()
    if show:
        for k, v in sorted(t.rows[-1].items(), key=lambda kv: kv[1]):
            print(f"  {k:<24} {(v - t.rows[-1]['sent']) * 1000:8.2f}")
    if profile:
        stats = pstats.Stats(profiler).sort_stats(os.environ.get("P1_SORT", "tottime"))
        stats.print_stats(int(os.environ.get("P1_LINES", "70")))
    t.report(requests, back_to_back)


def _ms(row: dict[str, float], start: str, end: str) -> float | None:
    return (row[end] - row[start]) * 1000 if start in row and end in row else None


@dataclass
class Timings:
    bare: list[float] = field(default_factory=list)
    bare_cpu: list[float] = field(default_factory=list)
    e2e: list[float] = field(default_factory=list)
    rows: list[dict[str, float]] = field(default_factory=list)
    cpu_rows: list[dict[str, float]] = field(default_factory=list)
    spent: list[dict[str, float]] = field(default_factory=list)

    def report(self, requests: int, back_to_back: bool) -> None:
        bare, e2e = self.bare, self.e2e
        how = "one after another" if back_to_back else "each after a bare fan-out"
        print(f"P1 critical path, {requests} calls {how}")
        print(f"  bare fan-out p50 {percentile(bare, 50):7.1f} ms  p99 {percentile(bare, 99):7.1f}")
        print(f"  bare fan-out CPU of this thread  p50 {percentile(self.bare_cpu, 50):6.2f} ms")
        print(f"  end to end   p50 {percentile(e2e, 50):7.1f} ms  p99 {percentile(e2e, 99):7.1f}")
        print(
            f"  overhead (p50 − bare p50) {percentile(e2e, 50) - percentile(bare, 50):6.1f} ms;"
            f" ratios p50 {percentile(e2e, 50) / percentile(bare, 50):.3f}"
            f"  p99 {percentile(e2e, 99) / percentile(bare, 99):.3f}"
        )
        print(f"  {'stage':<44} {'p50':>7} {'p90':>7} {'max':>7} {'cpu p50':>8}  ms")
        for label, start, end in STAGES:
            vals = [v for row in self.rows if (v := _ms(row, start, end)) is not None]
            cpus = [v for row in self.cpu_rows if (v := _ms(row, start, end)) is not None]
            if vals:
                print(
                    f"  {label:<44} {percentile(vals, 50):7.2f} {percentile(vals, 90):7.2f}"
                    f" {max(vals):7.2f} {percentile(cpus, 50) if cpus else 0.0:8.2f}"
                )
        for label in sorted({k for d in self.spent for k in d}):
            vals = [d.get(label, 0.0) * 1000 for d in self.spent]
            print(f"  {'in ' + label:<44} {percentile(vals, 50):7.2f} {percentile(vals, 90):7.2f}")
        # Background writes (change comparisons, webhooks…) that fell inside a timed call.
        own = ("write_intake", "write_release")
        others = [
            any(k.startswith("write_") and not k.startswith(own) for k in row) for row in self.rows
        ]
        hit = [e for e, o in zip(e2e, others, strict=True) if o]
        clear = [e for e, o in zip(e2e, others, strict=True) if not o]
        if hit and clear:
            seen = sorted(
                {k.rsplit("_", 1)[0][6:] for r in self.rows for k in r if k.startswith("write_")}
                - {"intake", "release"}
            )
            print(
                f"  calls with another write inside ({', '.join(seen)}): {len(hit)},"
                f" p50 {percentile(hit, 50):.1f} ms; without: {len(clear)},"
                f" p50 {percentile(clear, 50):.1f} ms"
            )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--profile", action="store_true", help="cProfile the timed calls")
    ap.add_argument("--marks", action="store_true", help="print one call's marks")
    ap.add_argument(
        "--back-to-back",
        action="store_true",
        help="calls one after another with no bare fan-out between (as p1_fanout_latency"
        " times them); the bare figures are then those of the warm-up",
    )
    args = ap.parse_args()
    asyncio.run(main(args.requests, args.latency_ms, args.profile, args.marks, args.back_to_back))
