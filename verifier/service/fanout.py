"""Asking every source about every member, concurrently, and never mistaking silence for
"no record".

Each member × source call is bounded by the source's timeout and the verification's
deadline; transient errors are retried with exponential backoff and jitter; every
failure becomes a FAILED or DENIED outcome with a reason — never NOT_FOUND, never an
exception out of :meth:`FanOut.run`.

A source's concurrency and rate limits are shared by every check, in priority lanes
(:mod:`verifier.service.lanes`): an urgent check's calls go before an interactive
check's, and both before a batch's. A department's rate limit (429) is not a failure: the
source's pace adapts to it for every check (:mod:`verifier.service.pacing`), the refused
call waits its turn and is sent again within the caller's deadline, and only what cannot
be sent in time is FAILED, "rate limited".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import structlog
from opentelemetry import trace
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from hedui_sdk import (
    Adapter,
    PermanentSourceError,
    ResultStatus,
    SourceDenied,
    SourceKind,
    SourceQuery,
    SourceRateLimited,
    SourceResult,
    TransientSourceError,
)
from hedui_sdk.masking import redact
from hedui_sdk.validation import record_problems
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.domain.ports.telemetry import SourceMetrics
from verifier.domain.source_policy import SourcePolicy as SourcePolicy
from verifier.service.lanes import Lane, PriorityGate
from verifier.service.pacing import Pacer

log = structlog.get_logger("hedui.fanout")
# The OpenTelemetry API: a no-op until a tracer provider is installed (``[tracing]``).
tracer = trace.get_tracer("hedui.fanout")


@dataclass(frozen=True, slots=True)
class BoundSource:
    """A configured source: its adapter, its policy and the gate that enforces its
    concurrency and rate limits, in lane order."""

    adapter: Adapter
    policy: SourcePolicy
    gate: PriorityGate


class CircuitOpen(Exception):
    """The source's circuit is open: it failed repeatedly and is left alone for a while."""


ProgressCallback = Callable[[SourceOutcome], Awaitable[None]]

_RETRYABLE = (TransientSourceError, TimeoutError)


_STATUS = {
    ResultStatus.FOUND: SourceStatus.FOUND,
    ResultStatus.NOT_FOUND: SourceStatus.NOT_FOUND,
    ResultStatus.PENDING: SourceStatus.PENDING,
}


def _malformed(result: object, kind: SourceKind) -> str:
    """Why an adapter's result breaks the contract, or '' when it keeps it.

    Third-party adapters can hand back anything: this never raises, and an answer that
    cannot be checked is malformed (a crash here would sink the whole verification).
    """
    try:
        return _contract_breach(result, kind)
    except Exception as exc:
        return f"result cannot be checked ({type(exc).__name__})"


def _contract_breach(answer: object, kind: SourceKind) -> str:
    if not isinstance(answer, SourceResult):
        return "adapter returned something other than a SourceResult"
    # Typed fields are the adapter's promise, not a fact: check them as untrusted.
    result: Any = answer
    if result.status not in _STATUS:
        return "result has an unknown status"
    if result.status is ResultStatus.PENDING:
        return (
            "" if isinstance(result.ticket, str) and result.ticket else "PENDING without a ticket"
        )
    if not isinstance(result.as_of, datetime) or result.as_of.utcoffset() is None:
        return "result as_of must be an aware datetime"
    if not isinstance(result.records, tuple | list):
        return "records must be a tuple of records"
    for r in result.records:
        problems = record_problems(r, kind.value)
        if problems:
            return problems[0]
    if result.status is ResultStatus.FOUND and not result.records:
        return "FOUND without records"
    if result.status is ResultStatus.NOT_FOUND and result.records:
        return "NOT_FOUND with records"
    return ""


class _OutOfTime(stop_base):
    """Stop when the next retry could not start before the deadline.

    tenacity computes the wait before asking whether to stop: a retry whose wait
    (backoff, or the source's own Retry-After) ends at or past the deadline is not
    worth waiting for.
    """

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() + retry_state.upcoming_sleep >= self._deadline


class FanOut:
    """Runs members × sources for one verification."""

    def __init__(
        self, sources: dict[SourceKind, BoundSource], metrics: SourceMetrics | None = None
    ) -> None:
        self._sources = sources
        self._metrics = metrics or SourceMetrics()
        # Only signs of an outage trip a breaker. A refusal, a rejected request or a rate
        # limit is an answer: the source is up. A cancelled call proves nothing either way; the
        # breaker library can only count an excluded exception as a success, and
        # resetting the count is the safer mistake than cutting off a healthy source.
        self._breakers = AsyncCircuitBreakerFactory(
            exclude=[PermanentSourceError, SourceDenied, SourceRateLimited, asyncio.CancelledError]
        )
        self._pacers = {
            kind: Pacer(bound.gate, bound.policy.rate_limit) for kind, bound in sources.items()
        }
        # Fan-outs under way: their calls are out and the event loop mostly waits for the
        # departments. Background work takes its turns then (see verifier.service.turns).
        self._asking = 0
        self._windows = 0
        self._opened = asyncio.Event()
        if metrics is not None:
            for kind in sources:
                metrics.breaker_changed(kind.value, "closed")
            self._breakers.add_listener(self._breaker_event)

    def _breaker_event(self, name: str, event_name: str, event: object) -> None:
        if event_name == "state_changed":
            self._metrics.breaker_changed(name, str(getattr(event, "state", "opened")))

    @property
    def configured(self) -> tuple[SourceKind, ...]:
        return tuple(self._sources)

    def policy(self, kind: SourceKind) -> SourcePolicy:
        bound = self._sources.get(kind)
        return bound.policy if bound else SourcePolicy()

    def adapter(self, kind: SourceKind) -> Adapter | None:
        bound = self._sources.get(kind)
        return bound.adapter if bound else None

    def gate(self, kind: SourceKind) -> PriorityGate | None:
        """The source's gate (its limits and who waits at it), if configured."""
        bound = self._sources.get(kind)
        return bound.gate if bound else None

    def pacer(self, kind: SourceKind) -> Pacer | None:
        """What adapts the source's pace to its rate limits, if configured."""
        return self._pacers.get(kind)

    @property
    def windows(self) -> int:
        """How many fan-outs have begun (each a window in which the loop mostly waits)."""
        return self._windows

    def asking_since(self, window: int) -> bool:
        """Whether a fan-out is under way and one began after the ``window``-th."""
        return self._asking > 0 and self._windows > window

    def next_window(self) -> asyncio.Event:
        """An event set when the next fan-out begins."""
        return self._opened

    async def run(
        self,
        request: VerificationRequest,
        *,
        request_id: str,
        deadline: float,
        on_progress: ProgressCallback | None = None,
        skip: frozenset[tuple[int, SourceKind]] = frozenset(),
        lane: Lane = Lane.INTERACTIVE,
        sources: tuple[SourceKind, ...] | None = None,
    ) -> list[SourceOutcome]:
        """Ask every member × source not in ``skip`` (answered already, e.g. reused), each
        call in ``lane`` at its source. ``sources``, when given, is exactly what is asked
        (empty asks nothing); otherwise the request's sources, or every configured one
        when the request names none."""
        kinds = sources if sources is not None else (request.sources or self.configured)
        jobs = [
            self._ask(i, kind, request, request_id, deadline, on_progress, lane)
            for i in range(len(request.household.members))
            for kind in kinds
            if (i, kind) not in skip
        ]
        self._asking += 1
        self._windows += 1
        opened, self._opened = self._opened, asyncio.Event()
        opened.set()
        try:
            # TaskGroup: if this coroutine is cancelled, every call below is cancelled too.
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(j) for j in jobs]
        finally:
            self._asking -= 1
        return [t.result() for t in tasks]

    async def _ask(
        self,
        member_index: int,
        kind: SourceKind,
        request: VerificationRequest,
        request_id: str,
        deadline: float,
        on_progress: ProgressCallback | None,
        lane: Lane,
    ) -> SourceOutcome:
        bound = self._sources.get(kind)
        if bound is None:
            outcome = SourceOutcome(
                member_index, kind, SourceStatus.FAILED, "", "", reason="source is not configured"
            )
        else:
            query = SourceQuery(
                subject=request.household.members[member_index].subject,
                window=request.window,
                region=request.household.region,
                purposes=tuple(p.value for p in request.purposes),
                request_id=request_id,
                deadline=deadline,
            )
            outcome, _ = await self._call(
                member_index, kind, bound, lambda: bound.adapter.query(query), deadline,
                bound.policy.retries, known=(query.subject.id_number, query.subject.name),
                lane=lane,
            )  # fmt: skip
        if on_progress is not None:
            await on_progress(outcome)
        return outcome

    async def poll(
        self, member_index: int, kind: SourceKind, ticket: str, *, known: tuple[str, ...] = ()
    ) -> tuple[SourceOutcome, bool]:
        """Ask an asynchronous source about a ticket, once.

        Returns the outcome and whether to try again later: True for a PENDING answer
        and for a transient failure (a bank briefly down must not turn a pending answer
        into FAILED). ``known`` (the member's ID number and name) is redacted from reasons.
        """
        bound = self._sources.get(kind)
        if bound is None:
            return SourceOutcome(
                member_index, kind, SourceStatus.FAILED, "", "", reason="source is not configured"
            ), False
        deadline = time.monotonic() + bound.policy.timeout
        outcome, transient = await self._call(
            member_index, kind, bound, lambda: bound.adapter.poll(ticket), deadline, 0, known=known
        )
        if outcome.status is SourceStatus.PENDING and not outcome.ticket:
            outcome = replace(outcome, ticket=ticket)
        return outcome, transient or outcome.status is SourceStatus.PENDING

    async def _call(
        self,
        member_index: int,
        kind: SourceKind,
        bound: BoundSource,
        invoke: Callable[[], Awaitable[SourceResult]],
        deadline: float,
        retries: int,
        *,
        known: tuple[str, ...] = (),
        lane: Lane = Lane.INTERACTIVE,
    ) -> tuple[SourceOutcome, bool]:
        """:meth:`_answer`, in a span of its own (the adapter's HTTP calls are its
        children) and counted in the source's metrics."""
        began = time.perf_counter()
        with tracer.start_as_current_span(
            f"source {kind.value}",
            attributes={
                "hedui.source": kind.value,
                "hedui.member_index": member_index,
                "hedui.adapter": bound.adapter.name,
            },
        ) as span:
            outcome, transient = await self._answer(
                member_index, kind, bound, invoke, deadline, retries, known=known, lane=lane
            )
            span.set_attribute("hedui.status", outcome.status.value)
            span.set_attribute("hedui.attempts", outcome.attempts)
        self._metrics.source_answered(
            kind.value, outcome.status.value, time.perf_counter() - began, outcome.attempts
        )
        return outcome, transient

    async def _answer(
        self,
        member_index: int,
        kind: SourceKind,
        bound: BoundSource,
        invoke: Callable[[], Awaitable[SourceResult]],
        deadline: float,
        retries: int,
        *,
        known: tuple[str, ...] = (),
        lane: Lane = Lane.INTERACTIVE,
    ) -> tuple[SourceOutcome, bool]:
        """Call the adapter with the source's limits; map every ending to an outcome.

        The flag is True when the ending was transient (worth asking again later).
        Reasons quote the adapter's exception messages, so they are redacted: ``known``
        (the subject's ID number and name) and anything like an ID number never reach
        a report, whatever a third-party adapter puts in its messages."""
        adapter, policy = bound.adapter, bound.policy
        pacer = self._pacers[kind]
        attempts = 0
        outages = 0  # failures that count against the retries (a rate limit does not)
        refused = 0  # calls the department refused as too many
        queued_out = False  # the deadline came while the call waited for its turn

        def outcome(
            status: SourceStatus, reason: str = "", result: SourceResult | None = None
        ) -> SourceOutcome:
            return SourceOutcome(
                member_index=member_index,
                source=kind,
                status=status,
                adapter=adapter.name,
                adapter_version=adapter.version,
                as_of=result.as_of if result else None,
                records=tuple(result.records) if result else (),
                reason=redact(reason, known),
                attempts=attempts,
                ticket=result.ticket if result else None,
                retry_after=result.retry_after if result else None,
                fetched_at=now_utc() if result else None,
            )

        backoff_of = wait_exponential_jitter(
            multiplier=policy.backoff_initial, max=policy.backoff_max
        )

        def wait_for(state: RetryCallState) -> float:
            backoff = backoff_of(state)
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, SourceRateLimited):
                return 0.0  # the gate holds every call to the source for its Retry-After
            hinted = (
                exc.retry_after
                if isinstance(exc, TransientSourceError) and exc.retry_after
                else 0.0
            )
            return max(backoff, hinted)

        async def attempt() -> SourceResult:
            nonlocal attempts, outages, refused, queued_out
            if deadline - time.monotonic() <= 0:
                raise TimeoutError
            attempts += 1
            if not bound.gate.try_acquire(lane):
                if bound.gate.held_until >= deadline:
                    queued_out = True  # the department's pause outlasts the caller
                    raise TimeoutError
                # Waiting for a rate-limit token or a concurrency slot counts against the
                # deadline too: a queue that never drains must still end in FAILED.
                try:
                    async with asyncio.timeout(deadline - time.monotonic()):
                        await bound.gate.acquire(lane, due=deadline)
                except TimeoutError:
                    queued_out = True
                    raise
            try:
                breaker = await self._breakers.get_breaker(
                    kind.value, threshold=policy.breaker_threshold, ttl=policy.breaker_reset
                )
                try:
                    async with breaker:
                        async with asyncio.timeout(
                            min(policy.timeout, deadline - time.monotonic())
                        ):
                            answer = await invoke()
                except OpenedState:
                    raise CircuitOpen from None
                except SourceRateLimited as exc:
                    refused += 1
                    pacer.limited(exc.retry_after)
                    raise
                except _RETRYABLE:
                    outages += 1
                    raise
                pacer.answered()
                return answer
            finally:
                bound.gate.release()

        async def retried(first_failure: BaseException) -> SourceResult:
            # tenacity sees the first attempt's failure as its own attempt 1 (replayed,
            # not re-asked), so backoff and the retry_after hint start from it.
            replayed = False

            async def replay_then_attempt() -> SourceResult:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    raise first_failure
                return await attempt()

            out_of_time = _OutOfTime(deadline)

            def stop(state: RetryCallState) -> bool:
                return queued_out or outages > retries or out_of_time(state)

            retrying = AsyncRetrying(
                retry=retry_if_exception_type(_RETRYABLE),
                stop=stop,
                wait=wait_for,
                reraise=True,
            )
            return await retrying(replay_then_attempt)

        try:
            # Most calls succeed at once: only a failed first attempt pays for the retry
            # machinery (its per-call cost is larger than a zero-latency source's).
            try:
                result: SourceResult = await attempt()
            except _RETRYABLE as exc:
                if queued_out or outages > retries:
                    raise
                result = await retried(exc)
        except SourceDenied as exc:
            return outcome(SourceStatus.DENIED, f"refused by the source: {exc}"), False
        except CircuitOpen:
            reason = (
                f"source failing repeatedly; not asked for {policy.breaker_reset:g}s (circuit open)"
            )
            return outcome(SourceStatus.FAILED, reason), True
        except SourceRateLimited:
            return outcome(SourceStatus.FAILED, rate_limited(refused)), True
        except TransientSourceError as exc:
            return outcome(
                SourceStatus.FAILED, f"unavailable after {attempts} attempt(s): {exc}"
            ), True
        except TimeoutError:
            if refused or (queued_out and pacer.limiting):
                return outcome(SourceStatus.FAILED, rate_limited(refused)), True
            if attempts == 0:
                return outcome(SourceStatus.FAILED, "not asked: the deadline had passed"), True
            return outcome(
                SourceStatus.FAILED, f"no answer in time after {attempts} attempt(s)"
            ), True
        except PermanentSourceError as exc:
            return outcome(SourceStatus.FAILED, f"source error: {exc}"), False
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # we are being cancelled: the caller left or the run is stopping
            # An adapter raised CancelledError of its own accord: a failure like any
            # other, not a reason to abandon the whole verification.
            log.warning("adapter_crashed", source=kind.value, adapter=adapter.name,
                        error="CancelledError")  # fmt: skip
            return outcome(SourceStatus.FAILED, "adapter error (CancelledError)"), False
        except Exception as exc:
            # The message may come from third-party code: log and report only its type.
            log.warning(
                "adapter_crashed", source=kind.value, adapter=adapter.name, error=type(exc).__name__
            )
            return outcome(SourceStatus.FAILED, f"adapter error ({type(exc).__name__})"), False
        problem = _malformed(result, kind)
        if problem:
            return outcome(SourceStatus.FAILED, f"malformed result: {problem}"), False
        status = _STATUS[result.status]
        reason = (
            "awaiting the source's asynchronous answer" if status is SourceStatus.PENDING else ""
        )
        return outcome(status, reason, result), False


def rate_limited(refused: int) -> str:
    """The reason for a call the department's rate limit left unserved at the deadline."""
    return f"rate limited: not served before the deadline ({refused} refused as too many)"


def now_utc() -> datetime:
    return datetime.now(UTC)


def bind_sources(
    adapters: dict[SourceKind, Adapter], policies: dict[SourceKind, SourcePolicy]
) -> dict[SourceKind, BoundSource]:
    bound: dict[SourceKind, BoundSource] = {}
    for kind, adapter in adapters.items():
        policy = policies.get(kind, SourcePolicy())
        gate = PriorityGate(
            policy.max_concurrency, policy.rate_limit, batch_reserve=policy.batch_reserve
        )
        bound[kind] = BoundSource(adapter, policy, gate)
    return bound
