"""Contract test on secrets: no credential, ID number or name in anything an adapter emits."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from hedui_sdk.contract import Adapter, ResultStatus, SourceResult
from hedui_sdk.testing.faults import FaultNotSupported
from hedui_sdk.testing.harness import UNKNOWN_TICKET, ConformanceHarness, Outcome


class LeakChecks(ConformanceHarness):
    """Drives the adapter down every path and looks for secrets in what came out."""

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
