"""Contract tests on time: deadlines, a passed deadline, cancellation and ``aclose``."""

from __future__ import annotations

import asyncio
from typing import Any

from hedui_sdk.contract import Adapter, SourceResult
from hedui_sdk.errors import TransientSourceError
from hedui_sdk.testing.harness import ConformanceHarness, Outcome


class DeadlineChecks(ConformanceHarness):
    """An adapter gives up in time, lets cancellation through and closes cleanly."""

    def test_deadline_is_honoured(self) -> None:
        """Against a hanging source, a query gives up by its deadline with an exception."""

        async def body(adapter: Adapter) -> None:
            faults = await self.fault("hang")
            await faults.hang()
            query = self.make_query(self.subject_with_records(), timeout_s=self.deadline_s)
            outcome = await self.call(
                adapter.query(query), bound=self.deadline_s + self.deadline_margin_s
            )
            _expect_gave_up(
                outcome,
                f"query() was still running {self.deadline_margin_s}s after its deadline"
                f" of {self.deadline_s}s: size timeouts with query.remaining()",
                "deadline passed",
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
            _expect_gave_up(
                outcome,
                f"query() with a passed deadline was still running {self.deadline_margin_s}s later",
                "deadline has passed",
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


def _expect_gave_up(outcome: Outcome, still_running: str, whose: str) -> None:
    """A query past its deadline ended in time, and in TransientSourceError or TimeoutError."""
    assert not outcome.timed_out, still_running
    assert isinstance(outcome.error, TransientSourceError | TimeoutError), (
        f"a query whose {whose} must raise TransientSourceError or"
        f" TimeoutError, not end in {outcome.describe()}"
    )


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
