"""BaseAdapter and ScriptedAdapter: the SDK's defaults keep the adapter contract.

A department team's one-method adapter built on ``BaseAdapter`` passes the conformance
kit, and ``ScriptedAdapter`` plays any department a test needs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, date, datetime

import pytest

from hedui_sdk import (
    Adapter,
    BaseAdapter,
    IdType,
    IncomeCategory,
    IncomeRecord,
    PermanentSourceError,
    Provenance,
    ResultStatus,
    SourceDenied,
    SourceKind,
    SourceQuery,
    SourceResult,
    Subject,
    TransientSourceError,
    Window,
    resident_id,
)
from hedui_sdk.registry import check_adapter
from hedui_sdk.testing import AdapterConformance, ScriptedAdapter
from hedui_sdk.testing.scripted import QueryHandler

AS_OF = datetime(2026, 10, 31, tzinfo=UTC)
WITH = Subject(IdType.RESIDENT_ID, resident_id.make("370322", date(1970, 3, 9), 1), "甲")
WITHOUT = Subject(IdType.RESIDENT_ID, resident_id.make("370322", date(1972, 8, 21), 2), "乙")


def tax_department(name: str, version: str) -> QueryHandler:
    """A tax department, answering through adapter ``name``, with one wage record on ``WITH``."""

    async def answer(q: SourceQuery) -> SourceResult:
        return _answer(q, Provenance("tax", name, version, "T-1", AS_OF))

    return answer


def _answer(q: SourceQuery, provenance: Provenance) -> SourceResult:
    if q.remaining() <= 0:
        raise TransientSourceError("deadline passed before the call")
    if q.subject.id_number != WITH.id_number:
        return SourceResult.not_found(AS_OF)
    record = IncomeRecord(
        IncomeCategory.WAGES,
        "salary",
        q.window.start,
        q.window.end,
        1_234_500,
        provenance,
    )
    return SourceResult.found([record], AS_OF)


class TestScriptedAdapterKeepsTheContract(AdapterConformance):
    """The kit itself accepts a ScriptedAdapter that answers like a department."""

    def make_adapter(self) -> Adapter:
        return ScriptedAdapter(tax_department("scripted", "0-scripted"), source=SourceKind.TAX)

    def subject_with_records(self) -> Subject:
        return WITH

    def subject_without_records(self) -> Subject:
        return WITHOUT

    def secret_values(self) -> Iterable[str]:
        return ()


class OneMethodTax(BaseAdapter):
    name = "one-method-tax"
    version = "1.0.0"
    source = SourceKind.TAX

    async def query(self, q: SourceQuery) -> SourceResult:
        return await tax_department(self.name, self.version)(q)


class TestBaseAdapterKeepsTheContract(AdapterConformance):
    """A BaseAdapter subclass with only ``query`` written passes the kit."""

    def make_adapter(self) -> Adapter:
        return OneMethodTax()

    def subject_with_records(self) -> Subject:
        return WITH

    def subject_without_records(self) -> Subject:
        return WITHOUT

    def secret_values(self) -> Iterable[str]:
        return ()


def test_a_subclass_missing_its_identity_is_refused_when_defined() -> None:
    with pytest.raises(TypeError, match="'version' must be a non-empty string"):

        class NoVersion(BaseAdapter):
            name = "x"
            source = SourceKind.TAX

            async def query(self, q: SourceQuery) -> SourceResult:
                raise NotImplementedError

    with pytest.raises(TypeError, match=r"'source' must be an hedui_sdk\.SourceKind"):

        class StringSource(BaseAdapter):
            name = "x"
            version = "1"
            source = "tax"  # type: ignore[assignment]

            async def query(self, q: SourceQuery) -> SourceResult:
                raise NotImplementedError


def test_an_abstract_intermediate_base_is_allowed() -> None:
    class DepartmentBase(BaseAdapter):
        """Shared by a department's adapters; names nothing yet."""

    assert DepartmentBase.__abstractmethods__ == frozenset({"query"})


async def test_base_defaults_refuse_tickets_and_close_quietly() -> None:
    adapter = OneMethodTax()
    assert check_adapter(adapter) == ""
    with pytest.raises(PermanentSourceError):
        await adapter.poll("any-ticket")
    await adapter.aclose()
    assert "one-method-tax" in repr(adapter)


async def test_scripted_adapter_records_queries_and_plays_failures() -> None:
    denied = ScriptedAdapter(_refuse, source=SourceKind.BANK, name="bank-x")
    assert (denied.name, denied.source) == ("bank-x", SourceKind.BANK)
    q = SourceQuery(
        subject=WITH,
        window=Window(date(2025, 11, 1), date(2026, 10, 31)),
        region="370322",
        purposes=("dibao",),
        request_id="r-1",
        deadline=time.monotonic() + 5,
    )
    with pytest.raises(SourceDenied):
        await denied.query(q)
    assert denied.queries == [q]
    assert denied.started.is_set()
    await denied.aclose()
    assert denied.closed


async def test_scripted_adapter_answers_tickets_with_its_poll_handler() -> None:
    async def later(ticket: str) -> SourceResult:
        return SourceResult.not_found(AS_OF) if ticket == "T-7" else SourceResult.pending(ticket, 1)

    async def ticket_now(q: SourceQuery) -> SourceResult:
        return SourceResult.pending("T-7", 0.5)

    bank = ScriptedAdapter(ticket_now, source=SourceKind.BANK, poll_handler=later)
    assert (await bank.poll("T-7")).status is ResultStatus.NOT_FOUND
    assert bank.tickets == ["T-7"]
    without = ScriptedAdapter(ticket_now, source=SourceKind.BANK)
    with pytest.raises(PermanentSourceError):
        await without.poll("T-7")


async def _refuse(q: SourceQuery) -> SourceResult:
    raise SourceDenied("HTTP 403")
