"""A zero-latency in-process source answering from the sandbox population."""

from __future__ import annotations

from datetime import UTC, datetime

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    IncomeCategory,
    IncomeRecord,
    PermanentSourceError,
    Provenance,
    Record,
    SourceKind,
    SourceQuery,
    SourceResult,
)
from hedui_sdk.sandbox import Population


class PopulationAdapter:
    """Answers at once: FOUND with one record when the population holds facts."""

    version = "bench"

    def __init__(self, source: SourceKind, pop: Population) -> None:
        self.source = source
        self.name = f"bench-{source.value}"
        self._pop = pop
        self._as_of = datetime.now(UTC)

    async def query(self, q: SourceQuery) -> SourceResult:
        person = self._pop.lookup(q.subject.id_type, q.subject.id_number)
        if person is None or not person.facts_for(self.source):
            return SourceResult.not_found(self._as_of)
        prov = Provenance(
            self.source.value, self.name, self.version, f"{self.source.value}-1", self._as_of
        )
        record: Record = (
            IncomeRecord(
                IncomeCategory.WAGES, "salary", q.window.start, q.window.end, 360_000, prov
            )
            if self.source in (SourceKind.TAX, SourceKind.SOCIAL_INSURANCE)
            else AssetRecord(AssetCategory.DEPOSIT, "x", 10_000, prov)
        )
        return SourceResult.found([record], self._as_of)

    async def poll(self, ticket: str) -> SourceResult:
        raise PermanentSourceError("synchronous")

    async def aclose(self) -> None:
        return None
