"""Contract tests on a misbehaving source: unavailable, rate-limited, refusing, garbage."""

from __future__ import annotations

import pytest

from hedui_sdk.contract import Adapter, ResultStatus
from hedui_sdk.errors import PermanentSourceError, SourceDenied, TransientSourceError
from hedui_sdk.testing.harness import ConformanceHarness


class ErrorChecks(ConformanceHarness):
    """Each failure of a source becomes its own exception, never an answer about a person."""

    def test_unavailable_is_transient(self) -> None:
        """An unavailable source (503) raises TransientSourceError, never NOT_FOUND."""
        self._every_query_raises(
            "fail", TransientSourceError, "an unavailable source must raise TransientSourceError"
        )

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
        self._every_query_raises("deny", SourceDenied, "a refused request must raise SourceDenied")

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

    def _every_query_raises(self, hook: str, error: type[Exception], rule: str) -> None:
        """With the fault ``hook`` on, the query about either subject raises ``error``."""

        async def body(adapter: Adapter) -> None:
            faults = await self.fault(hook)
            await getattr(faults, hook)()
            for which, subject in self.subjects():
                outcome = await self.call(adapter.query(self.make_query(subject)))
                assert isinstance(outcome.error, error), (
                    f"{rule}; the query about {which} ended in {outcome.describe()}"
                )

        self.run_with_adapter(body)
