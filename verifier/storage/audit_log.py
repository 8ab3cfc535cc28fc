"""Audit appends inside the unit of work's transaction (see :mod:`audit.log`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from audit.entry import AppendedEntry, EntryDraft
from audit.log import AuditLog
from verifier.domain.ports import AuditRepository
from verifier.storage.guard import guard


class SqlAudit(AuditRepository):
    def __init__(self, session: AsyncSession, log: AuditLog) -> None:
        self._session = session
        self._log = log

    async def append(self, drafts: Sequence[EntryDraft]) -> list[AppendedEntry]:
        async with guard():
            return await self._log.append(self._session, drafts)
