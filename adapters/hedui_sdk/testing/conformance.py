"""The adapter contract as pytest tests: subclass :class:`AdapterConformance` and run pytest.

Each ``test_*`` method checks one rule of :class:`~hedui_sdk.contract.Adapter`. The tests
are ordinary synchronous pytest tests that run the adapter in an event loop of their own,
so they need no pytest-asyncio and behave the same in any test suite. Every await on the
adapter is bounded: an adapter that hangs or swallows cancellation fails the test that
caught it instead of hanging the whole run.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar, TypeVar

import pytest

from hedui_sdk.contract import Adapter, ResultStatus, SourceQuery, SourceResult, Subject, Window
from hedui_sdk.errors import PermanentSourceError, SourceDenied, TransientSourceError
from hedui_sdk.records import Provenance, Record
from hedui_sdk.registry import check_adapter
from hedui_sdk.testing.faults import FaultNotSupported, Faults
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


class AdapterConformance:
    """Base class of a conformance test suite for one adapter.

    Subclass it in a module pytest collects, with a name starting with ``Test``, and
    implement the hooks:

    * :meth:`make_adapter`: a new adapter (plain or ``async def``), pointed at a source
      that holds records on :meth:`subject_with_records` and none on
      :meth:`subject_without_records`;
    * :meth:`secret_values`: every credential value given to the adapter;
    * :meth:`faults`: a :class:`~hedui_sdk.testing.Faults` that makes that source misbehave
      (the tests that need a hook it lacks are skipped).

    :class:`~hedui_sdk.testing.SandboxConformance` implements all of them with the
    in-process sandbox. Class attributes tune the bounds; the defaults suit loopback.
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

    # -- the contract ----------------------------------------------------------------------

    def test_adapter_attributes(self) -> None:
        """``name``/``version`` non-empty strings, ``source`` a SourceKind, async methods."""

        async def body(adapter: Adapter) -> None:
            reason = check_adapter(adapter)
            assert not reason, f"the adapter breaks the contract: {reason}"
            assert isinstance(adapter, Adapter)

        self.run_with_adapter(body)

    def test_found_records_are_well_formed(self) -> None:
        """FOUND: SDK record types, integer fen, full provenance, aware UTC ``as_of``."""

        async def body(adapter: Adapter) -> None:
            result = await self.answer(adapter, self.subject_with_records())
            assert result.status is ResultStatus.FOUND, (
                f"expected FOUND for subject_with_records(), got {result.status.value}"
            )
            self.check_found(adapter, result)

        self.run_with_adapter(body)

    def test_not_found_has_no_records(self) -> None:
        """NOT_FOUND for the subject without records, with no records and an aware ``as_of``."""

        async def body(adapter: Adapter) -> None:
            result = await self.answer(adapter, self.subject_without_records())
            assert result.status is ResultStatus.NOT_FOUND, (
                f"expected NOT_FOUND for subject_without_records(), got {result.status.value}"
            )
            assert result.records == (), "a NOT_FOUND result must carry no records"
            assert is_utc(result.as_of), "as_of must be an aware UTC datetime"

        self.run_with_adapter(body)

    def test_pending_is_polled_to_an_answer(self) -> None:
        """PENDING carries a ticket and ``retry_after``; polling ends in FOUND."""

        async def body(adapter: Adapter) -> None:
            faults = self.faults()
            made_async = False
            if faults is not None:
                await faults.reset()
                with contextlib.suppress(FaultNotSupported):
                    await faults.asynchronous(self.pending_delay_s)
                    made_async = True
            first = await self.call(adapter.query(self.make_query(self.subject_with_records())))
            result = self.expect_result(first, "query")
            if result.status is not ResultStatus.PENDING:
                if made_async:
                    pytest.fail(
                        f"the source answers asynchronously, but query() returned"
                        f" {result.status.value} instead of PENDING"
                    )
                pytest.skip("the source answered at once and faults() cannot make it asynchronous")
            self.check_pending(result)
            final = await self.resolve(adapter, result)
            assert final.status is ResultStatus.FOUND, (
                f"polling ended in {final.status.value}, expected FOUND"
            )
            self.check_found(adapter, final)

        self.run_with_adapter(body)

    def test_deadline_is_honoured(self) -> None:
        """Against a hanging source, a query gives up by its deadline with an exception."""

        async def body(adapter: Adapter) -> None:
            faults = await self.fault("hang")
            await faults.hang()
            query = self.make_query(self.subject_with_records(), timeout_s=self.deadline_s)
            outcome = await self.call(
                adapter.query(query), bound=self.deadline_s + self.deadline_margin_s
            )
            assert not outcome.timed_out, (
                f"query() was still running {self.deadline_margin_s}s after its deadline"
                f" of {self.deadline_s}s: size timeouts with query.remaining()"
            )
            assert isinstance(outcome.error, TransientSourceError | TimeoutError), (
                "a query whose deadline passed must raise TransientSourceError or"
                f" TimeoutError, not end in {outcome.describe()}"
            )

        self.run_with_adapter(body)

    def test_a_passed_deadline_is_not_sent(self) -> None:
        """A query whose deadline has already passed raises at once, without an answer.

        hedui may hand over a query whose time ran out while it waited for a slot; the
        department must not be asked about a person when nobody will read the answer.
        """

        async def body(adapter: Adapter) -> None:
            query = self.make_query(self.subject_with_records(), timeout_s=-1.0)
            outcome = await self.call(adapter.query(query), bound=self.deadline_margin_s)
            assert not outcome.timed_out, (
                f"query() with a passed deadline was still running {self.deadline_margin_s}s later"
            )
            assert isinstance(outcome.error, TransientSourceError | TimeoutError), (
                "a query whose deadline has passed must raise TransientSourceError or"
                f" TimeoutError, not end in {outcome.describe()}"
            )

        self.run_with_adapter(body)

    def test_cancellation_propagates(self) -> None:
        """Cancelling an in-flight query raises CancelledError and leaves no running task."""

        async def body(adapter: Adapter) -> None:
            faults = await self.fault("hang")
            await faults.hang()
            before = asyncio.all_tasks()
            query = self.make_query(self.subject_with_records(), timeout_s=self.test_timeout_s)
            task = asyncio.ensure_future(adapter.query(query))
            hanging = asyncio.ensure_future(faults.wait_hanging(1))
            await asyncio.wait(
                {task, hanging}, timeout=self.cancel_timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
            hanging.cancel()
            await asyncio.wait({hanging})
            assert not task.done(), (
                f"query() against a hanging source ended early in {_task_outcome(task)}"
            )
            task.cancel()
            await asyncio.wait({task}, timeout=self.cancel_timeout_s)
            assert task.done(), (
                f"query() was still running {self.cancel_timeout_s}s after it was cancelled"
            )
            assert task.cancelled(), (
                f"a cancelled query() must let CancelledError propagate; it ended in"
                f" {_task_outcome(task)}"
            )
            # Let callbacks scheduled by the cancellation run before looking for leftovers.
            for _ in range(20):
                await asyncio.sleep(0)
            current = asyncio.current_task()
            left = [t for t in asyncio.all_tasks() - before if not t.done() and t is not current]
            assert not left, "the cancelled query left tasks running: " + ", ".join(
                _task_name(t) for t in left
            )

        self.run_with_adapter(body)

    def test_unavailable_is_transient(self) -> None:
        """An unavailable source (503) raises TransientSourceError, never NOT_FOUND."""

        async def body(adapter: Adapter) -> None:
            faults = await self.fault("fail")
            await faults.fail()
            for which, subject in self.subjects():
                outcome = await self.call(adapter.query(self.make_query(subject)))
                assert isinstance(outcome.error, TransientSourceError), (
                    f"an unavailable source must raise TransientSourceError; the query about"
                    f" {which} ended in {outcome.describe()}"
                )

        self.run_with_adapter(body)

    def test_rate_limited_is_transient_with_retry_after(self) -> None:
        """A rate-limited source (429) raises TransientSourceError with ``retry_after``."""

        async def body(adapter: Adapter) -> None:
            faults = await self.fault("rate_limit")
            await faults.rate_limit()
            seen: list[str] = []
            for _ in range(self.rate_limit_attempts):
                outcome = await self.call(
                    adapter.query(self.make_query(self.subject_with_records()))
                )
                seen.append(outcome.describe())
                if isinstance(outcome.error, TransientSourceError):
                    retry_after = outcome.error.retry_after
                    assert retry_after is not None, (
                        "a rate-limited answer must set TransientSourceError.retry_after"
                        " from the source's Retry-After"
                    )
                    assert retry_after > 0, "retry_after must be positive"
                    return
                ok = outcome.result is not None and outcome.result.status in (
                    ResultStatus.FOUND,
                    ResultStatus.PENDING,
                )
                assert ok, f"a rate-limited source must not end in {outcome.describe()}"
            pytest.fail(
                f"no TransientSourceError in {self.rate_limit_attempts} queries against a"
                f" rate-limited source: {', '.join(seen)}"
            )

        self.run_with_adapter(body)

    def test_refusal_is_denied(self) -> None:
        """A source that refuses hedui (401/403) raises SourceDenied, never NOT_FOUND.

        The most harmful mistake an adapter can make is to turn "you may not ask" into
        "this person has no record": a family could lose its assistance over it.
        """

        async def body(adapter: Adapter) -> None:
            faults = await self.fault("deny")
            await faults.deny()
            for which, subject in self.subjects():
                outcome = await self.call(adapter.query(self.make_query(subject)))
                assert isinstance(outcome.error, SourceDenied), (
                    f"a refused request must raise SourceDenied; the query about {which}"
                    f" ended in {outcome.describe()}"
                )

        self.run_with_adapter(body)

    def test_unknown_ticket_is_an_error(self) -> None:
        """Polling a ticket the source never issued raises PermanentSourceError.

        An unknown ticket is not an answer about anyone: FOUND or NOT_FOUND here would
        be reported as the source's word on a real person.
        """

        async def body(adapter: Adapter) -> None:
            outcome = await self.call(adapter.poll(UNKNOWN_TICKET))
            assert isinstance(outcome.error, PermanentSourceError), (
                "poll() of a ticket the source never issued must raise"
                f" PermanentSourceError, not end in {outcome.describe()}"
            )

        self.run_with_adapter(body)

    def test_garbage_is_permanent(self) -> None:
        """A malformed answer raises PermanentSourceError, never NOT_FOUND or FOUND."""

        async def body(adapter: Adapter) -> None:
            faults = await self.fault("garbage")
            await faults.garbage()
            for attempt in range(1, self.garbage_attempts + 1):
                outcome = await self.call(
                    adapter.query(self.make_query(self.subject_with_records()))
                )
                assert isinstance(outcome.error, PermanentSourceError), (
                    f"a malformed answer must raise PermanentSourceError; attempt {attempt}"
                    f" ended in {outcome.describe()}"
                )

        self.run_with_adapter(body)

    def test_secrets_never_leak(
        self, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """No credential, ID number or name in logs, output, results or exceptions."""
        caplog.set_level(logging.DEBUG)
        texts: dict[str, list[str]] = {}

        async def body(adapter: Adapter) -> None:
            texts["repr of the adapter"] = [repr(adapter), str(adapter)]
            for outcome in await self.exercise(adapter):
                if outcome.result is not None:
                    texts.setdefault("results", []).extend(_result_texts(outcome.result))
                if outcome.error is not None:
                    texts.setdefault("exceptions", []).extend(_error_texts(outcome.error))

        with _structlog_events() as events:
            self.run_with_adapter(body)
        out, err = capfd.readouterr()
        texts["log records"] = [caplog.text, *(_record_text(r) for r in caplog.records)]
        texts["structlog events"] = [repr(e) for e in events]
        texts["printed output"] = [out, err]
        needles: list[tuple[str, str]] = [
            (f"secret value #{i}", value)
            for i, value in enumerate(self.secret_values(), start=1)
            if value
        ]
        for which, subject in self.subjects():
            needles.append((f"the ID number of {which}", subject.id_number))
            needles.append((f"the name of {which}", subject.name))
        leaks = [
            # Named, never shown: even a masked short token gives most of it away.
            f"{what} ({len(needle)} characters) in {where}"
            for what, needle in needles
            for where, haystack in texts.items()
            if any(needle in text for text in haystack)
        ]
        assert not leaks, "leaked: " + "; ".join(leaks)

    def test_aclose(self) -> None:
        """``aclose()`` can be called once, after use, without error."""

        async def body(adapter: Adapter) -> None:
            await self.call(adapter.query(self.make_query(self.subject_without_records())))
            closed = await self.call(
                adapter.aclose(), bound=self.cancel_timeout_s, returns_result=False
            )
            assert not closed.timed_out, f"aclose() took more than {self.cancel_timeout_s}s"
            assert closed.error is None, f"aclose() raised {type(closed.error).__name__}"

        self.run_with_adapter(body, close=False)

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

    async def exercise(self, adapter: Adapter) -> list[Outcome]:
        """Drive the adapter down every path the fault hooks allow (for the leak test)."""
        outcomes: list[Outcome] = []
        faults = self.faults()
        if faults is not None:
            await faults.reset()
            with contextlib.suppress(FaultNotSupported):
                await faults.asynchronous(self.pending_delay_s)
        for _, subject in self.subjects():
            first = await self.call(adapter.query(self.make_query(subject)))
            outcomes.append(first)
            result = first.result
            for _ in range(self.max_polls):
                if result is None or result.status is not ResultStatus.PENDING or not result.ticket:
                    break
                await self.wait(result.retry_after or 0.0)
                polled = await self.call(adapter.poll(result.ticket))
                outcomes.append(polled)
                result = polled.result
        outcomes.append(await self.call(adapter.poll(UNKNOWN_TICKET)))
        if faults is None:
            return outcomes
        plans: list[tuple[Callable[[], Coroutine[Any, Any, None]], float | None]] = [
            (faults.fail, None),
            (faults.garbage, None),
            (faults.deny, None),
            (faults.rate_limit, None),
            (faults.hang, self.deadline_s),
        ]
        for hook, timeout_s in plans:
            await faults.reset()
            try:
                await hook()
            except FaultNotSupported:
                continue
            for _ in range(2):  # a rate limit may let the first request through
                query = self.make_query(self.subject_with_records(), timeout_s=timeout_s)
                outcomes.append(await self.call(adapter.query(query)))
        await faults.reset()
        return outcomes

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


def _task_name(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", None) or task.get_name()


def _task_outcome(task: asyncio.Task[Any]) -> str:
    if not task.done():
        return "nothing yet"
    if task.cancelled():
        return "CancelledError"
    error = task.exception()
    if error is not None:
        return type(error).__name__
    value = task.result()
    if isinstance(value, SourceResult):
        return f"a {value.status.value} result"
    return type(value).__name__


def _result_texts(result: SourceResult) -> list[str]:
    return [repr(result), str(result), *(repr(r) for r in result.records)]


def _error_texts(error: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [repr(current), str(current)]
        # What a traceback printer shows: the cause, or the context unless suppressed.
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return texts


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args)]
    if record.exc_info and record.exc_info[1] is not None:
        parts += _error_texts(record.exc_info[1])
    return "\n".join(parts)


@contextlib.contextmanager
def _structlog_events() -> Iterator[list[Any]]:
    """structlog events emitted meanwhile (none when structlog is not installed)."""
    try:
        from structlog.testing import capture_logs
    except ImportError:  # pragma: no cover - structlog is optional for a department
        yield []
        return
    with capture_logs() as events:
        yield events
