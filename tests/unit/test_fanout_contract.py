"""What the fan-out does with adapters that break the SDK contract or outstay the deadline.

Whatever an adapter returns or raises, its member × source ends FAILED with a reason; no
other source is disturbed and no retry waits past the verification's deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    IncomeCategory,
    IncomeRecord,
    PermanentSourceError,
    Provenance,
    ResultStatus,
    SourceDenied,
    SourceKind,
    SourceQuery,
    SourceResult,
    TransientSourceError,
)
from tests.fakes import AS_OF, FakeAdapter
from tests.helpers import APPLICANT_ID, household_draft, soon
from verifier.domain.household import VerificationRequest, validate_request
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources


class Scripted(FakeAdapter):
    """A tax source whose every query is ``answer(query)``."""

    def __init__(self, answer: Callable[[SourceQuery], Awaitable[Any]]) -> None:
        super().__init__(SourceKind.TAX)
        self.answer = answer

    async def query(self, q: SourceQuery) -> SourceResult:
        self.calls += 1
        result: SourceResult = await self.answer(q)
        return result


def tax_only_request(members: int = 1) -> VerificationRequest:
    draft = household_draft(
        members=household_draft().members[:members], sources=(SourceKind.TAX, SourceKind.BANK)
    )
    return validate_request(draft, today=date(2026, 11, 1))


async def ask(
    adapter: FakeAdapter, deadline: float | None = None, **policy: Any
) -> list[SourceOutcome]:
    settings = {"timeout": 5.0, "backoff_initial": 0.001, "backoff_max": 0.002, **policy}
    bank = FakeAdapter(SourceKind.BANK, asset_fen={APPLICANT_ID: 500})
    fanout = FanOut(
        bind_sources(
            {SourceKind.TAX: adapter, SourceKind.BANK: bank},
            {SourceKind.TAX: SourcePolicy(**settings)},
        )
    )
    return await fanout.run(tax_only_request(), request_id="r", deadline=deadline or soon())


def by_source(outcomes: list[SourceOutcome]) -> dict[SourceKind, SourceOutcome]:
    return {o.source: o for o in outcomes}


def _tax_record() -> IncomeRecord:
    return IncomeRecord(
        IncomeCategory.WAGES,
        "salary",
        date(2026, 1, 1),
        date(2026, 1, 31),
        185_000,
        Provenance("tax", "fake-tax", "0.0-test", "R1", AS_OF),
    )


def _bank_record() -> AssetRecord:
    return AssetRecord(
        AssetCategory.DEPOSIT, "savings", 5, Provenance("bank", "some-bank", "1", "R1", AS_OF)
    )


GARBAGE: dict[str, Callable[[], object]] = {
    "records-None": lambda: SourceResult(status=ResultStatus.FOUND, as_of=AS_OF, records=None),  # type: ignore[arg-type]
    "unknown-status": lambda: SourceResult(status="BOGUS", as_of=AS_OF),  # type: ignore[arg-type]
    "provenance-None": lambda: SourceResult(
        status=ResultStatus.FOUND,
        as_of=AS_OF,
        records=(AssetRecord(AssetCategory.DEPOSIT, "x", 1, None),),  # type: ignore[arg-type]
    ),
    "as_of-not-a-time": lambda: SourceResult(status=ResultStatus.NOT_FOUND, as_of="today"),  # type: ignore[arg-type]
    "as_of-naive": lambda: SourceResult.not_found(datetime(2026, 10, 31, 12, 0)),
    "another-source's-records": lambda: SourceResult.found([_bank_record()], AS_OF),
    "category-as-plain-str": lambda: SourceResult.found(
        [replace(_tax_record(), category="wages")],  # type: ignore[arg-type]
        AS_OF,
    ),
    "dates-as-str": lambda: SourceResult.found(
        [replace(_tax_record(), period_start="2026-01-01")],  # type: ignore[arg-type]
        AS_OF,
    ),
    "period-backwards": lambda: SourceResult.found(
        [replace(_tax_record(), period_start=date(2026, 3, 1), period_end=date(2026, 2, 1))],
        AS_OF,
    ),
    "not-a-result": lambda: {"status": "FOUND"},
}


@pytest.mark.parametrize("make", GARBAGE.values(), ids=GARBAGE.keys())
async def test_a_result_that_breaks_the_contract_is_failed_and_sinks_nothing(
    make: Callable[[], object],
) -> None:
    async def answer(_q: SourceQuery) -> object:
        return make()

    outcomes = by_source(await ask(Scripted(answer)))
    assert outcomes[SourceKind.TAX].status is SourceStatus.FAILED
    assert outcomes[SourceKind.TAX].reason.startswith("malformed result")
    assert outcomes[SourceKind.TAX].records == ()
    # The other source of the same member is answered as if nothing happened.
    assert outcomes[SourceKind.BANK].status is SourceStatus.FOUND


async def test_an_adapter_raising_cancelled_error_by_itself_is_failed() -> None:
    async def answer(_q: SourceQuery) -> object:
        raise asyncio.CancelledError

    outcomes = by_source(await ask(Scripted(answer), retries=2))
    assert outcomes[SourceKind.TAX].status is SourceStatus.FAILED
    assert "CancelledError" in outcomes[SourceKind.TAX].reason
    assert outcomes[SourceKind.BANK].status is SourceStatus.FOUND


async def test_a_real_cancellation_still_cancels() -> None:
    started = asyncio.Event()

    async def answer(_q: SourceQuery) -> object:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("never set")

    task = asyncio.create_task(ask(Scripted(answer)))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_retry_hint_longer_than_the_time_left_is_not_waited_for() -> None:
    adapter = Scripted(lambda _q: _raise(TransientSourceError("HTTP 503", retry_after=30.0)))
    deadline = time.monotonic() + 2.0
    [tax, _bank] = await ask(adapter, deadline=deadline, retries=2)
    # Answered before the deadline: the 30 s hint could not end in time, so no retry.
    assert time.monotonic() < deadline
    assert tax.status is SourceStatus.FAILED
    assert (tax.attempts, adapter.calls) == (1, 1)


async def test_a_hanging_source_ends_at_the_deadline_with_only_real_attempts_counted() -> None:
    hung = asyncio.Event()

    async def answer(_q: SourceQuery) -> object:
        hung.set()
        await asyncio.Event().wait()
        raise AssertionError("never set")

    adapter = Scripted(answer)
    deadline = time.monotonic() + 0.5
    # The default backoff (0.2 s and up) would take retries far past a 0.5 s deadline.
    [tax, _bank] = await ask(adapter, deadline=deadline, retries=2, backoff_initial=0.2)
    assert hung.is_set()
    assert time.monotonic() < deadline + 0.25  # the timeout fired; no backoff after it
    assert tax.status is SourceStatus.FAILED
    assert tax.attempts == adapter.calls == 1
    assert "after 1 attempt(s)" in tax.reason


async def _raise(exc: Exception) -> object:
    raise exc


@pytest.mark.parametrize(
    "error",
    [
        TransientSourceError("HTTP 503 for {number} ({name})"),
        PermanentSourceError("no such person {number}"),
        SourceDenied("{name} is sealed"),
    ],
    ids=["transient", "permanent", "denied"],
)
async def test_an_adapters_message_naming_the_subject_is_redacted_in_the_reason(
    error: Exception,
) -> None:
    subject = tax_only_request().household.members[0].subject
    text = str(error.args[0]).format(number=subject.id_number, name=subject.name)
    leaky = type(error)(text)

    async def answer(_q: SourceQuery) -> object:
        raise leaky

    tax = by_source(await ask(Scripted(answer), retries=0))[SourceKind.TAX]
    assert tax.status in (SourceStatus.FAILED, SourceStatus.DENIED)
    assert "[REDACTED" in tax.reason
    assert subject.id_number not in tax.reason and subject.name not in tax.reason
