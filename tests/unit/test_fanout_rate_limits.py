"""A department's rate limit slows the fan-out down; it never cuts the source off.

Scripted departments answer 429 (:class:`SourceRateLimited`) by their own rules; the
fan-out must wait out their Retry-After, ask again within the caller's deadline, keep
its circuit breaker for real outages, and call FAILED "rate limited" only what could
not be sent in time.
"""

from __future__ import annotations

import time
from datetime import date

from hedui_sdk import (
    SourceKind,
    SourceQuery,
    SourceRateLimited,
    SourceResult,
    TransientSourceError,
)
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, CHILD_ID, SPOUSE_ID, household_draft, soon
from verifier.domain.household import VerificationRequest, validate_request
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources

INCOME = {APPLICANT_ID: 100, SPOUSE_ID: 200, CHILD_ID: 300}


class Department(FakeAdapter):
    """A tax department that admits ``admit`` calls, then refuses ``refuse`` calls with
    a 429 naming ``retry_after`` seconds, then admits again, and so on."""

    def __init__(self, admit: int, refuse: int, retry_after: float | None) -> None:
        super().__init__(SourceKind.TAX, income_fen=INCOME)
        self.admit, self.refuse, self.retry_after = admit, refuse, retry_after
        self.sent: list[tuple[float, bool]] = []  # (when, admitted)

    async def query(self, q: SourceQuery) -> SourceResult:
        admitted = len(self.sent) % (self.admit + self.refuse) < self.admit
        self.sent.append((time.monotonic(), admitted))
        if not admitted:
            raise SourceRateLimited("HTTP 429 RATE_LIMITED", retry_after=self.retry_after)
        return await super().query(q)


class Outage(FakeAdapter):
    """A tax department that is down: every call is an HTTP 503."""

    def __init__(self) -> None:
        super().__init__(SourceKind.TAX, fail_with=TransientSourceError("HTTP 503"))


def household(members: int = 3) -> VerificationRequest:
    draft = household_draft(members=household_draft().members[:members], sources=(SourceKind.TAX,))
    return validate_request(draft, today=date(2026, 11, 1))


def fanout(adapter: FakeAdapter, **policy: float) -> FanOut:
    settings: dict[str, float] = {
        "timeout": 5.0, "retries": 0, "breaker_threshold": 1, "backoff_initial": 0.001,
        "backoff_max": 0.002, **policy,
    }  # fmt: skip
    return FanOut(
        bind_sources({SourceKind.TAX: adapter}, {SourceKind.TAX: SourcePolicy(**settings)})  # type: ignore[arg-type]
    )


async def run(f: FanOut, deadline: float | None = None, members: int = 3) -> list[SourceOutcome]:
    return await f.run(household(members), request_id="r", deadline=deadline or soon())


async def test_refusals_do_not_open_the_breaker_and_every_call_is_answered() -> None:
    # A breaker that opens at the first failure, no retries for failures: a 429 is
    # neither, so each refused call is asked again and answered.
    department = Department(admit=1, refuse=2, retry_after=0.01)
    # A generous configured rate: each refusal lowers the pace from it, and the pace
    # stays quick enough for the test to take a few hundredths of a second.
    f = fanout(department, rate_limit=100)
    outcomes = await run(f)
    assert [o.status for o in outcomes] == [SourceStatus.FOUND] * 3
    assert sum(not admitted for _, admitted in department.sent) >= 2
    pacer = f.pacer(SourceKind.TAX)
    assert pacer is not None and pacer.limited_count >= 2
    # The source was never cut off: a later check is asked and answered too.
    [again] = await run(f, members=1)
    assert again.status is SourceStatus.FOUND


async def test_nothing_is_sent_before_the_departments_retry_after() -> None:
    department = Department(admit=1, refuse=1, retry_after=0.05)
    outcomes = await run(fanout(department), members=2)
    assert [o.status for o in outcomes] == [SourceStatus.FOUND] * 2
    refused_at = [t for t, admitted in department.sent if not admitted]
    after = [t for t, _ in department.sent if refused_at and t > refused_at[0]]
    assert refused_at and after
    assert all(t - refused_at[0] >= 0.05 for t in after)


async def test_what_the_limit_lets_through_is_answered_and_only_the_rest_is_rate_limited() -> None:
    # One call admitted, then a pause far beyond the caller's deadline.
    department = Department(admit=1, refuse=10, retry_after=600.0)
    outcomes = await run(fanout(department, retries=2), deadline=soon(30))
    found = [o for o in outcomes if o.status is SourceStatus.FOUND]
    failed = [o for o in outcomes if o.status is SourceStatus.FAILED]
    assert len(found) == 1 and len(failed) == 2
    # Refused, or not sent at all once the department had named its pause: either way
    # the call is rate limited, not "unavailable", and nobody waited for the pause to end.
    for o in failed:
        assert o.reason.startswith("rate limited: not served before the deadline (")
    assert len(department.sent) <= 3
    assert sum(admitted for _, admitted in department.sent) == 1


async def test_a_call_queued_behind_a_pause_that_outlasts_the_deadline_is_rate_limited() -> None:
    department = Department(admit=0, refuse=1, retry_after=600.0)
    f = fanout(department)
    [first] = await run(f, members=1)
    [second] = await run(f, members=1)  # the source is paused: it is not even sent
    assert first.reason == "rate limited: not served before the deadline (1 refused as too many)"
    assert second.status is SourceStatus.FAILED
    assert second.reason == "rate limited: not served before the deadline (0 refused as too many)"
    assert len(department.sent) == 1


async def test_real_outages_still_open_the_breaker() -> None:
    f = fanout(Outage(), breaker_threshold=2)
    reasons = [(await run(f, members=1))[0].reason for _ in range(3)]
    assert reasons[:2] == ["unavailable after 1 attempt(s): HTTP 503"] * 2
    assert reasons[2] == "source failing repeatedly; not asked for 30s (circuit open)"
