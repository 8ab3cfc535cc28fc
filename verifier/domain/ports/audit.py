"""The audit log as the use cases write it: entries appended in the unit's transaction."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from audit.entry import AppendedEntry, EntryDraft


class AuditRepository(abc.ABC):
    @abc.abstractmethod
    async def append(self, drafts: Sequence[EntryDraft]) -> list[AppendedEntry]:
        """Append ``drafts`` in order; they commit (or not) with the unit of work.

        Raises :class:`~verifier.domain.errors.Unavailable` when the log cannot be
        written: the request fails closed."""
