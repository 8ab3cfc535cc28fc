"""The outcomes repository: what each member × source answered, records sealed."""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from verifier.domain.outcomes import SourceOutcome


@dataclass(frozen=True, slots=True)
class OutcomeSummary:
    """A member × source status without its records: what progress shows."""

    member_index: int
    source: str
    status: str
    reason: str
    deployment: str = ""
    """The peer deployment that answered, or "" for this deployment's own sources."""


class OutcomeRepository(abc.ABC):
    @abc.abstractmethod
    async def store(
        self,
        verification_id: str,
        outcomes: Sequence[SourceOutcome],
        now: datetime,
        *,
        stored: Collection[tuple[int, str]] | None = None,
    ) -> None:
        """Insert or replace these member × source outcomes (records sealed).

        ``stored`` names the (member index, source) pairs already stored, when the caller
        knows them (it read them under the verification's lock); otherwise they are read.
        A PENDING outcome is scheduled for polling at ``now + retry_after``."""

    @abc.abstractmethod
    async def load(self, verification_id: str) -> list[SourceOutcome]:
        """Every stored outcome, by member index then source."""

    @abc.abstractmethod
    async def summaries(self, verification_id: str) -> list[OutcomeSummary]:
        """Every outcome's status, by member index then source; no records read. A closed
        check's (see :meth:`close`) are its last report version's."""

    @abc.abstractmethod
    async def close(self, verification_id: str) -> None:
        """The check is DONE: its outcomes (records, statuses, reasons, provenance) live
        on in its last signed report version, so its working rows are dropped."""
