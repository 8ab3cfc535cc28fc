"""Contract tests on the answers an adapter gives: attributes, FOUND, NOT_FOUND, PENDING."""

from __future__ import annotations

import contextlib

import pytest

from hedui_sdk.contract import Adapter, ResultStatus
from hedui_sdk.errors import PermanentSourceError
from hedui_sdk.registry import check_adapter
from hedui_sdk.testing.faults import FaultNotSupported
from hedui_sdk.testing.harness import UNKNOWN_TICKET, ConformanceHarness
from hedui_sdk.validation import is_utc


class AnswerChecks(ConformanceHarness):
    """The answers of a working source: well-formed records, money in integer fen."""

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
