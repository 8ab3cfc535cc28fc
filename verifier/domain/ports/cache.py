"""The answer cache: definite answers a source allows to be reused for a while."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hedui_sdk import Record, Window


@dataclass(frozen=True, slots=True)
class CachedResult:
    subject_ref: str
    source: str
    status: str
    adapter: str
    adapter_version: str
    as_of: datetime | None
    fetched_at: datetime
    records: tuple[Record, ...]
    window: Window | None = None
    """The assessment window the source answered for (an answer about income in one
    window says nothing about another)."""


class CacheRepository(abc.ABC):
    @abc.abstractmethod
    async def get(
        self, keys: Sequence[tuple[str, str]], fetched_after: datetime
    ) -> dict[tuple[str, str], CachedResult]:
        """Reusable answers by (subject_ref, source) fetched after ``fetched_after``."""

    @abc.abstractmethod
    async def put(self, results: Sequence[CachedResult]) -> None:
        """Insert or replace the answer kept for each (subject_ref, source)."""
