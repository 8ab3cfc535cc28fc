"""The machinery under the conformance kit: bounded calls, polling, record checks, event loops.

:class:`ConformanceHarness` holds the hooks a suite implements, the bounds it may tune and
the helpers every group of contract tests (and a department's own tests) builds on. It
holds no ``test_*`` method itself; :class:`~hedui_sdk.testing.AdapterConformance` combines
it with the groups of tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar, TypeVar

import pytest

from hedui_sdk.contract import Adapter, ResultStatus, SourceQuery, SourceResult, Subject, Window
from hedui_sdk.records import Provenance, Record
from hedui_sdk.testing.faults import Faults
from hedui_sdk.validation import is_utc, record_problems

T = TypeVar("T")

UNKNOWN_TICKET = "conformance-no-such-ticket"
"""A ticket no source ever issued (protocol-safe characters)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one bounded call to the adapter ended: a result, an exception, or neither."""

    result: SourceResult | None = None
    error: BaseException | None = None
    cancelled: bool = False
    timed_out: bool = False

    def describe(self) -> str:
        """A short, secret-free description for a failure message."""
        if self.timed_out:
            return "no answer within the bound"
        if self.cancelled:
            return "CancelledError"
        if self.error is not None:
            return f"{type(self.error).__name__}"
        assert self.result is not None
        return f"a {self.result.status.value} result"


class ConformanceHarness:
    """The hooks, bounds and helpers of :class:`~hedui_sdk.testing.AdapterConformance`.

    Subclass :class:`~hedui_sdk.testing.AdapterConformance`, not this class: this one
    carries no tests.
    """

    deadline_s: ClassVar[float] = 0.5
    """The deadline given to a query against a hanging source."""
    deadline_margin_s: ClassVar[float] = 2.0
    """How long after its deadline a query may still be running before the test fails."""
    query_timeout_s: ClassVar[float] = 10.0
    """The deadline of an ordinary query."""
    cancel_timeout_s: ClassVar[float] = 5.0
    """How long a cancelled query (or ``aclose``) may take to finish."""
    test_timeout_s: ClassVar[float] = 60.0
    """The most one test may take in all."""
    pending_delay_s: ClassVar[float] = 0.05
    """How late an asynchronous source answers in the PENDING test."""
    pending_timeout_s: ClassVar[float] = 30.0
    """The most polling a PENDING answer may take."""
    max_polls: ClassVar[int] = 100
    """The most ``poll`` calls for one PENDING answer."""
    max_poll_wait_s: ClassVar[float] = 5.0
    """The longest single wait between polls (``retry_after`` is capped to it)."""
    garbage_attempts: ClassVar[int] = 8
    """Queries against a garbage-answering source (doubles often rotate kinds of garbage)."""
    rate_limit_attempts: ClassVar[int] = 5
    """Queries against a rate-limited source before a 429 must have been seen."""
    region: ClassVar[str] = "370322"
    """The region code put in every query."""
    purposes: ClassVar[tuple[str, ...]] = ("dibao",)
    """The purposes put in every query."""

    # -- hooks -----------------------------------------------------------------------------

    def make_adapter(self) -> Adapter | Awaitable[Adapter]:
        """A new adapter for one test (may be ``async def``). Called inside the test's loop."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_adapter()")

    def subject_with_records(self) -> Subject:
        """A subject the source holds records on for :meth:`window` (answers FOUND)."""
        raise NotImplementedError(f"{type(self).__name__} must implement subject_with_records()")

    def subject_without_records(self) -> Subject:
        """A subject the source holds nothing on (answers NOT_FOUND)."""
        raise NotImplementedError(f"{type(self).__name__} must implement subject_without_records()")

    def secret_values(self) -> Iterable[str]:
        """The credential values given to the adapter: none may appear in any output."""
        raise NotImplementedError(f"{type(self).__name__} must implement secret_values()")

    def faults(self) -> Faults | None:
        """The fault hooks for the source, or ``None`` (then every fault test is skipped)."""
        return None

    def window(self) -> Window:
        """The assessment window of every query: by default the 365 days to last month's end."""
        end = date.today().replace(day=1) - timedelta(days=1)
        return Window(end - timedelta(days=364), end)

    def make_query(self, subject: Subject, *, timeout_s: float | None = None) -> SourceQuery:
        """A query about ``subject`` with a deadline ``timeout_s`` from now."""
        seconds = self.query_timeout_s if timeout_s is None else timeout_s
        return SourceQuery(
            subject=subject,
            window=self.window(),
            region=self.region,
            purposes=self.purposes,
            request_id=f"conformance-{uuid.uuid4().hex}",
            deadline=time.monotonic() + seconds,
        )

    async def wait(self, seconds: float) -> None:
        """The kit's clock: wait ``seconds`` between polls. Override to use a fake clock."""
        await asyncio.sleep(min(max(seconds, 0.0), self.max_poll_wait_s))

    # -- helpers a subclass may use in tests of its own ------------------------------------

    def subjects(self) -> Iterator[tuple[str, Subject]]:
        """Both subjects, each with a label for messages (never the subject itself)."""
        yield "subject_with_records()", self.subject_with_records()
        yield "subject_without_records()", self.subject_without_records()

    async def fault(self, hook: str) -> Faults:
        """The fault hooks, reset; skips the test when ``hook`` is not supported."""
        faults = self.faults()
        if faults is None:
            pytest.skip("faults() returns None: the source cannot be made to misbehave")
        if getattr(type(faults), hook) is getattr(Faults, hook):
            pytest.skip(f"faults() does not implement {hook}()")
        await faults.reset()
        return faults

    async def call(
        self, awaitable: Awaitable[Any], *, bound: float | None = None, returns_result: bool = True
    ) -> Outcome:
        """Await an adapter call in a task, at most ``bound`` seconds, and say how it ended.

        With ``returns_result`` (``query``, ``poll``) anything but a SourceResult fails.
        """
        limit = self.query_timeout_s + self.deadline_margin_s if bound is None else bound
        task = asyncio.ensure_future(awaitable)
        await asyncio.wait({task}, timeout=limit)
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=self.cancel_timeout_s)
            return Outcome(timed_out=True)
        if task.cancelled():
            return Outcome(cancelled=True)
        error = task.exception()
        if error is not None:
            return Outcome(error=error)
        value = task.result()
        if not returns_result:
            return Outcome()
        if not isinstance(value, SourceResult):
            pytest.fail(f"expected a SourceResult, got {type(value).__name__}")
        return Outcome(result=value)

    def expect_result(self, outcome: Outcome, what: str) -> SourceResult:
        """The result of ``outcome``, or fail naming how ``what`` ended instead."""
        if outcome.result is None:
            pytest.fail(f"{what} ended in {outcome.describe()}, expected a result")
        return outcome.result

    async def answer(self, adapter: Adapter, subject: Subject) -> SourceResult:
        """Query about ``subject`` and poll any PENDING answer to its end."""
        first = await self.call(adapter.query(self.make_query(subject)))
        return await self.resolve(adapter, self.expect_result(first, "query()"))

    async def resolve(self, adapter: Adapter, result: SourceResult) -> SourceResult:
        """Poll a PENDING result until it is FOUND or NOT_FOUND, in bounded steps."""
        deadline = time.monotonic() + self.pending_timeout_s
        for _ in range(self.max_polls):
            if result.status is not ResultStatus.PENDING:
                return result
            self.check_pending(result)
            assert result.ticket is not None
            if time.monotonic() >= deadline:
                break
            await self.wait(result.retry_after or 0.0)
            outcome = await self.call(adapter.poll(result.ticket))
            result = self.expect_result(outcome, "poll()")
        pytest.fail(f"still PENDING after {self.max_polls} polls or {self.pending_timeout_s}s")

    def check_pending(self, result: SourceResult) -> None:
        """A PENDING result names a ticket and a non-negative ``retry_after``."""
        assert isinstance(result.ticket, str), "PENDING needs a ticket"
        assert result.ticket, "PENDING needs a non-empty ticket"
        assert result.retry_after is not None, "PENDING needs a retry_after"
        assert result.retry_after >= 0, "retry_after must not be negative"
        assert result.records == (), "a PENDING result must carry no records"

    def check_found(self, adapter: Adapter, result: SourceResult) -> None:
        """A FOUND result: at least one well-formed record, an aware UTC ``as_of``."""
        assert result.records, "a FOUND result needs at least one record"
        assert is_utc(result.as_of), "as_of must be an aware UTC datetime"
        problems: dict[str, list[int]] = {}
        for i, record in enumerate(result.records):
            for problem in self.record_problems(adapter, record):
                problems.setdefault(problem, []).append(i)
        # One line per kind of problem, naming the records that have it.
        assert not problems, "; ".join(
            f"{problem} (record{'s' if len(at) > 1 else ''} {', '.join(map(str, at))})"
            for problem, at in problems.items()
        )

    def record_problems(self, adapter: Adapter, record: Record) -> list[str]:
        """What is wrong with one record (empty when it keeps the contract).

        hedui's own check (:func:`hedui_sdk.validation.record_problems`, which refuses the
        whole answer in production), plus the provenance naming this adapter.
        """
        problems = record_problems(record, adapter.source.value)
        prov: object = getattr(record, "provenance", None)
        if isinstance(prov, Provenance):
            if prov.adapter != adapter.name:
                problems.append("provenance.adapter differs from the adapter's name")
            if prov.adapter_version != adapter.version:
                problems.append("provenance.adapter_version differs from the adapter's version")
        return problems

    def run_with_adapter(
        self, body: Callable[[Adapter], Awaitable[None]], *, close: bool = True
    ) -> None:
        """Run ``body(adapter)`` in a fresh event loop with a new adapter, then close it."""

        async def main() -> None:
            made = self.make_adapter()
            adapter = await made if inspect.isawaitable(made) else made
            try:
                outcome = await self.call(
                    body(adapter), bound=self.test_timeout_s, returns_result=False
                )
                if outcome.timed_out:
                    pytest.fail(f"the test did not finish within {self.test_timeout_s}s")
                if outcome.error is not None:
                    raise outcome.error
            finally:
                if close:
                    closed = await self.call(
                        adapter.aclose(), bound=self.cancel_timeout_s, returns_result=False
                    )
                    if closed.timed_out:
                        pytest.fail(f"aclose() took more than {self.cancel_timeout_s}s")
                    if closed.error is not None:
                        raise closed.error

        run_bounded(main(), cancel_timeout_s=self.cancel_timeout_s)


def run_bounded(main: Coroutine[Any, Any, T], *, cancel_timeout_s: float) -> T:
    """Run ``main`` in a new event loop; leftover tasks get ``cancel_timeout_s`` to unwind.

    Unlike :func:`asyncio.run`, a task that ignores cancellation cannot hang the shutdown.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_leftovers(loop, cancel_timeout_s)
        finally:
            asyncio.set_event_loop(None)
            loop.close()
            # Finalize what the loop left (transports, abandoned coroutines) now, inside
            # this test, instead of at whatever point the next collection happens to run.
            gc.collect()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop, limit: float) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=limit))
    for t in tasks:
        if t.done() and not t.cancelled():
            t.exception()  # retrieved, so asyncio does not log it as never retrieved
    with contextlib.suppress(TimeoutError):
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), limit))
    with contextlib.suppress(TimeoutError):
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_default_executor(), limit))
