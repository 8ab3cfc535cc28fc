"""Fakes that subclass the real ports, and synthetic subjects for tests.

Sources (``FakeAdapter``, ``AsyncBankFake``), a consent gate, and an in-memory store
whose repositories subclass the storage ports (``tests/fakes/store.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    IncomeCategory,
    IncomeRecord,
    PermanentSourceError,
    Provenance,
    SourceKind,
    SourceQuery,
    SourceResult,
    TransientSourceError,
    resident_id,
)
from tests.fakes.store import InMemoryStore, InMemoryUnitOfWork
from verifier.domain.consent import CoverageDecision
from verifier.domain.household import Purpose
from verifier.domain.ports import ConsentGate, UnitOfWork

AS_OF = datetime(2026, 10, 31, tzinfo=UTC)


def synthetic_id(region: str = "370322", seq: int = 1, born: date = date(1980, 5, 17)) -> str:
    return resident_id.make(region, born, seq)


class FakeAdapter:
    """An in-process source: answers from a table keyed by ID number.

    ``fail_with`` makes every call raise; ``hang`` makes calls wait forever (until
    cancelled); ``calls`` counts queries; ``started`` is set on the first call.
    """

    version = "0.0-test"

    def __init__(
        self,
        source: SourceKind,
        *,
        income_fen: dict[str, int] | None = None,
        asset_fen: dict[str, int] | None = None,
        fail_with: Exception | None = None,
        hang: bool = False,
    ) -> None:
        self.source = source
        self.name = f"fake-{source.value}"
        self.income_fen = income_fen or {}
        self.asset_fen = asset_fen or {}
        self.fail_with = fail_with
        self.hang = hang
        self.calls = 0
        self.cancelled = 0
        self.started = asyncio.Event()
        self.closed = False

    def _prov(self, n: int) -> Provenance:
        return Provenance(self.source.value, self.name, self.version, f"R{n}", AS_OF)

    async def query(self, q: SourceQuery) -> SourceResult:
        self.calls += 1
        self.started.set()
        if self.hang:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        if self.fail_with is not None:
            raise self.fail_with
        num = q.subject.id_number
        if num in self.income_fen:
            return SourceResult.found(
                [
                    IncomeRecord(
                        IncomeCategory.WAGES,
                        "salary",
                        q.window.start,
                        q.window.end,
                        self.income_fen[num],
                        self._prov(self.calls),
                        payer="某公司",
                    )
                ],
                AS_OF,
            )
        if num in self.asset_fen:
            return SourceResult.found(
                [
                    AssetRecord(
                        AssetCategory.REAL_ESTATE,
                        "residence",
                        self.asset_fen[num],
                        self._prov(self.calls),
                    )
                ],
                AS_OF,
            )
        return SourceResult.not_found(AS_OF)

    async def poll(self, ticket: str) -> SourceResult:
        raise PermanentSourceError("this fake answers synchronously")

    async def aclose(self) -> None:
        self.closed = True


def failing(source: SourceKind) -> FakeAdapter:
    return FakeAdapter(source, fail_with=TransientSourceError("HTTP 503"))


def with_wrong_check_digit(number: str) -> str:
    return number[:17] + ("0" if number[-1] != "0" else "1")


class AsyncBankFake(FakeAdapter):
    """A bank that answers later: ``query`` gives a ticket; ``poll`` stays PENDING until
    ``ready`` is set, then returns a deposit for subjects in ``deposits_fen``."""

    def __init__(self, deposits_fen: dict[str, int] | None = None) -> None:
        super().__init__(SourceKind.BANK)
        self.deposits_fen = deposits_fen or {}
        self.ready = asyncio.Event()
        self.tickets: dict[str, str] = {}
        self.polls = 0

    async def query(self, q: SourceQuery) -> SourceResult:
        self.calls += 1
        ticket = f"T{self.calls}"
        self.tickets[ticket] = q.subject.id_number
        return SourceResult.pending(ticket, retry_after=0.01)

    async def poll(self, ticket: str) -> SourceResult:
        self.polls += 1
        if not self.ready.is_set():
            return SourceResult.pending(ticket, retry_after=0.01)
        number = self.tickets[ticket]
        if number not in self.deposits_fen:
            return SourceResult.not_found(AS_OF)
        return SourceResult.found(
            [
                AssetRecord(
                    AssetCategory.DEPOSIT,
                    "savings",
                    self.deposits_fen[number],
                    self._prov(self.polls),
                )
            ],
            AS_OF,
        )


class AllowAllConsents(ConsentGate):
    """A consent gate that covers everything, for tests of other behaviour.

    Tests of authorization itself use the real registry (``RegistryConsentGate``)."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    async def check(
        self,
        uow: UnitOfWork,
        number: str,
        *,
        region: str,
        subject_refs: Sequence[str],
        sources: Sequence[SourceKind],
        purposes: Sequence[Purpose],
        today: date,
    ) -> CoverageDecision:
        self.checked.append(number)
        return await self.decide(number)

    async def decide(self, number: str) -> CoverageDecision:
        """The decision on ``number``: covered. A test's own gate refuses or waits here."""
        return CoverageDecision(True)


class PausedGate(AllowAllConsents):
    """Covers everything, but holds the intent's unit of work open until told to go on."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.go_on = asyncio.Event()

    async def decide(self, number: str) -> CoverageDecision:
        self.entered.set()
        await self.go_on.wait()
        return await super().decide(number)


__all__ = [
    "AS_OF",
    "AllowAllConsents",
    "AsyncBankFake",
    "FakeAdapter",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "PausedGate",
    "failing",
    "synthetic_id",
    "with_wrong_check_digit",
]
