"""The fan-out's retry rules, through FanOut itself with scripted in-process sources."""

from __future__ import annotations

import time
from datetime import date

import pytest

from hedui_sdk import (
    PermanentSourceError,
    SourceKind,
    SourceQuery,
    SourceResult,
    TransientSourceError,
)
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, household_draft, soon
from verifier.domain.household import validate_request
from verifier.domain.outcomes import SourceStatus
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources


class FlakyAdapter(FakeAdapter):
    """Fails its first ``failures`` calls with ``error``, then answers as FakeAdapter."""

    def __init__(self, failures: int, error: Exception) -> None:
        super().__init__(SourceKind.TAX, income_fen={APPLICANT_ID: 100})
        self.failures = failures
        self.error = error
        self.call_times: list[float] = []

    async def query(self, q: SourceQuery) -> SourceResult:
        self.call_times.append(time.monotonic())
        if len(self.call_times) <= self.failures:
            self.calls += 1
            raise self.error
        return await super().query(q)


def one_member_tax_request() -> object:
    draft = household_draft(members=household_draft().members[:1], sources=(SourceKind.TAX,))
    return validate_request(draft, today=date(2026, 11, 1))


async def ask(adapter: FlakyAdapter, retries: int) -> tuple[SourceStatus, int, str]:
    policy = SourcePolicy(timeout=5.0, retries=retries, backoff_initial=0.001, backoff_max=0.002)
    fanout = FanOut(bind_sources({SourceKind.TAX: adapter}, {SourceKind.TAX: policy}))
    request = one_member_tax_request()
    [outcome] = await fanout.run(request, request_id="r", deadline=soon())  # type: ignore[arg-type]
    return outcome.status, outcome.attempts, outcome.reason


async def test_transient_failures_are_retried_until_an_answer() -> None:
    adapter = FlakyAdapter(2, TransientSourceError("HTTP 503"))
    status, attempts, _ = await ask(adapter, retries=2)
    assert status is SourceStatus.FOUND
    assert attempts == 3
    assert len(adapter.call_times) == 3


async def test_retries_run_out_into_failed_naming_the_attempts() -> None:
    adapter = FlakyAdapter(5, TransientSourceError("HTTP 503"))
    status, attempts, reason = await ask(adapter, retries=2)
    assert status is SourceStatus.FAILED
    assert attempts == 3
    assert len(adapter.call_times) == 3
    assert reason == "unavailable after 3 attempt(s): HTTP 503"


async def test_no_retries_means_one_attempt() -> None:
    adapter = FlakyAdapter(1, TransientSourceError("HTTP 503"))
    status, attempts, _ = await ask(adapter, retries=0)
    assert (status, attempts, len(adapter.call_times)) == (SourceStatus.FAILED, 1, 1)


async def test_a_permanent_error_is_not_retried() -> None:
    adapter = FlakyAdapter(1, PermanentSourceError("HTTP 400"))
    status, attempts, reason = await ask(adapter, retries=3)
    assert (status, attempts, len(adapter.call_times)) == (SourceStatus.FAILED, 1, 1)
    assert reason == "source error: HTTP 400"


@pytest.mark.parametrize("failures", [1, 2])
async def test_the_sources_retry_after_hint_is_waited_before_each_retry(failures: int) -> None:
    # The backoff here is ~1 ms: only the hint can explain a 50 ms gap.
    adapter = FlakyAdapter(failures, TransientSourceError("HTTP 429", retry_after=0.05))
    status, attempts, _ = await ask(adapter, retries=2)
    assert (status, attempts) == (SourceStatus.FOUND, failures + 1)
    gaps = [b - a for a, b in zip(adapter.call_times, adapter.call_times[1:], strict=False)]
    assert len(gaps) == failures
    assert all(g >= 0.05 for g in gaps)
