"""A department that rate-limits: interactive checks get what the limit allows, in time.

One sandbox department (social insurance) accepts ``--rate-limit`` requests a second and
answers 429 with Retry-After beyond that; hedui has no limit of its own configured for
it (it learns the pace from the 429s) and the default retries and circuit breaker.
Interactive checks (one household every ``--interval`` seconds, ``--deadline`` each)
run alongside a batch that offers far more than the limit. Printed: the interactive
member × source answers obtained against what the limit allows them within their
deadlines, the batch's share, the 429s seen, and the circuit breaker's openings (target:
every interactive answer allowed, no opening). ``--as-outage`` turns each 429 into a
plain :class:`TransientSourceError`, as an adapter that does not tell a rate limit apart
would raise: the figures hedui gives without pacing (retries with backoff, breaker).

    .venv/bin/python -m bench.rate_limited [--rate-limit 5] [--seconds 20] [--interval 1]
        [--deadline 10] [--batch-interval 0.25] [--as-outage]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field

from hedui_sdk import (
    Adapter,
    SourceKind,
    SourceQuery,
    SourceRateLimited,
    SourceResult,
    TransientSourceError,
)
from hedui_sdk.builtin import FACTORIES
from hedui_sdk.sandbox import Population, generate_population, start_sandbox
from hedui_sdk.sandbox.server import current_as_of
from verifier.config import sandbox_sources
from verifier.domain.household import (
    MemberDraft,
    Purpose,
    Relation,
    RequestDraft,
    VerificationRequest,
    validate_request,
)
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.service.fanout import FanOut, bind_sources
from verifier.service.lanes import Lane

SOURCE = SourceKind.SOCIAL_INSURANCE
REGION = "370322"


@dataclass
class Tally:
    offered: int = 0
    answered: int = 0
    rate_limited: int = 0
    other_failed: int = 0
    circuit_open: int = 0
    first_arrival: float = float("inf")
    last_deadline: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, outcomes: list[SourceOutcome], arrival: float, deadline: float) -> None:
        self.first_arrival = min(self.first_arrival, arrival)
        self.last_deadline = max(self.last_deadline, deadline)
        for o in outcomes:
            self.offered += 1
            if o.status in (SourceStatus.FOUND, SourceStatus.NOT_FOUND):
                self.answered += 1
            elif o.reason.startswith("rate limited"):
                self.rate_limited += 1
            else:
                self.other_failed += 1
                key = o.reason.split(":")[0]
                self.reasons[key] = self.reasons.get(key, 0) + 1
            self.circuit_open += "circuit open" in o.reason


class AsOutage:
    """An adapter whose 429s reach hedui as plain transient errors."""

    def __init__(self, inner: Adapter) -> None:
        self._inner = inner
        self.name, self.version, self.source = inner.name, inner.version, inner.source

    async def query(self, q: SourceQuery) -> SourceResult:
        try:
            return await self._inner.query(q)
        except SourceRateLimited as exc:
            raise TransientSourceError(str(exc), retry_after=exc.retry_after) from None

    async def poll(self, ticket: str) -> SourceResult:
        return await self._inner.poll(ticket)

    async def aclose(self) -> None:
        await self._inner.aclose()


def relation(value: str) -> Relation:
    return Relation.APPLICANT if value == "self" else Relation(value)


def request(pop: Population, index: int) -> VerificationRequest:
    hh = pop.sample_household(REGION, index)
    draft = RequestDraft(
        request_id=f"bench-rl-{index}", case_id="CASE-RL", authorization_id="SQ-RL",
        purposes=(Purpose.DIBAO,), region=hh.region,
        members=tuple(
            MemberDraft(p.id_type, p.id_number, p.name, relation(p.relation.value))
            for p in hh.members
        ),
        sources=(SOURCE,), window_start="", window_end="",
    )  # fmt: skip
    return validate_request(draft, today=pop.as_of)


async def offer(
    fanout: FanOut,
    requests: list[VerificationRequest],
    lane: Lane,
    interval: float,
    deadline_s: float,
    tally: Tally,
) -> None:
    async def one(req: VerificationRequest) -> None:
        arrival = time.monotonic()
        deadline = arrival + deadline_s
        outcomes = await fanout.run(req, request_id=req.request_id, deadline=deadline, lane=lane)
        tally.add(outcomes, arrival, deadline)

    async with asyncio.TaskGroup() as tg:
        for req in requests:
            tg.create_task(one(req))
            await asyncio.sleep(interval)


async def main(
    rate: float, seconds: float, interval: float, deadline: float, batch: float, as_outage: bool
) -> int:
    pop = generate_population(2260, households_per_county=400, as_of=current_as_of())
    sandbox = await start_sandbox(population=pop, faults={})
    await sandbox.set_faults(SOURCE, rate_limit_rps=rate)
    config = sandbox_sources(sandbox.port)[SOURCE]
    adapter: Adapter = FACTORIES[SOURCE](config.settings())
    if as_outage:
        adapter = AsOutage(adapter)
    fanout = FanOut(bind_sources({SOURCE: adapter}, {SOURCE: config.policy}))
    n_inter = int(seconds / interval)
    n_batch = int(seconds / batch) if batch else 0
    inter_reqs = [request(pop, i) for i in range(n_inter)]
    batch_reqs = [request(pop, n_inter + i) for i in range(n_batch)]
    interactive, batched = Tally(), Tally()
    started = time.monotonic()
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(
                offer(fanout, inter_reqs, Lane.INTERACTIVE, interval, deadline, interactive)
            )
            if n_batch:
                tg.create_task(offer(fanout, batch_reqs, Lane.BATCH, batch, 3 * deadline, batched))
    finally:
        await adapter.aclose()
        await sandbox.stop()
    elapsed = time.monotonic() - started
    # The department's bucket holds max(1, rate) and refills at rate: over the span from
    # the first interactive check to the last one's deadline it admits at most this many.
    span = interactive.last_deadline - interactive.first_arrival
    allowed = min(interactive.offered, int(max(1.0, rate) + rate * span))
    pacer = fanout.pacer(SOURCE)
    assert pacer is not None
    print(f"department limit {rate:g} req/s, {elapsed:.1f} s, deadline {deadline:g} s")
    for name, t in (("interactive", interactive), ("batch", batched)):
        print(
            f"{name:<12} offered {t.offered:4d}  answered {t.answered:4d}  "
            f"rate limited {t.rate_limited:4d}  other failed {t.other_failed:4d} {t.reasons or ''}"
        )
    total = interactive.answered + batched.answered
    print(f"answers/s overall        {total / elapsed:.2f} (limit {rate:g})")
    print(f"interactive answers / allowed  {interactive.answered}/{allowed}")
    print(f"429s seen {pacer.limited_count}, pace lowered {pacer.decreases}x", end=", ")
    print(f"pace now {pacer.rate:.2f}/s")
    openings = interactive.circuit_open + batched.circuit_open
    print(f"breaker openings (calls refused as circuit open): {openings}")
    ok = interactive.answered == allowed and openings == 0
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate-limit", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--deadline", type=float, default=10.0)
    parser.add_argument("--batch-interval", type=float, default=0.25)
    parser.add_argument("--as-outage", action="store_true")
    args = parser.parse_args()
    raise SystemExit(
        asyncio.run(
            main(
                args.rate_limit,
                args.seconds,
                args.interval,
                args.deadline,
                args.batch_interval,
                args.as_outage,
            )
        )
    )
