"""The reports repository: signed report versions, sealed, and their announcement."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from verifier.domain.outcomes import Completeness


@dataclass(frozen=True, slots=True)
class StoredReport:
    verification_id: str
    version: int
    report_id: str
    envelope: bytes
    envelope_sha256: str
    previous_sha256: str
    signing_key_id: str
    completeness: Completeness
    release_seq: int
    summary_json: str
    created_at: datetime
    purged: bool = False
    """The envelope was removed when its retention period ran out (``envelope`` is
    empty); the hash, release entry and summary remain."""


class ReportRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, report: StoredReport) -> None: ...

    @abc.abstractmethod
    async def get(self, verification_id: str, version: int) -> StoredReport | None:
        """``version`` 0 means the latest."""

    @abc.abstractmethod
    async def announce(self, verification_id: str) -> None:
        """Tell every server process, once this unit commits, that the verification has
        a new report (see :meth:`Store.listen_releases`)."""
