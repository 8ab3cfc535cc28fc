"""The retention repository: finding personal data whose period has run out, and purging it.

What is purged is the sealed personal data only: a report version's envelope and the
check's request, the outcomes' records and tickets, the fragments peers gave the check,
cached answers, and the answers this deployment gave peers (their fragments hold
records). Everything an old printout is checked against (the envelope's hash, its
release entry in the audit log, the summary without personal data) stays.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class PurgeKind(StrEnum):
    """What one purge removes from a done check."""

    REPORTS = "reports"
    SOURCE_RECORDS = "source_records"


@dataclass(frozen=True, slots=True)
class DoneCheck:
    """A done check whose data of one kind is still held."""

    verification_id: str
    case_id: str
    region: str
    done_at: datetime


class RetentionRepository(abc.ABC):
    @abc.abstractmethod
    async def lease(self, job: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take (or renew) the lease on ``job`` for ``owner`` until ``until``: False while
        another owner holds it."""

    @abc.abstractmethod
    async def held(
        self,
        kind: PurgeKind,
        done_before: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[DoneCheck]:
        """Done checks still holding ``kind`` data, done before ``done_before``, in order of
        (done_at, id) from after ``after``."""

    @abc.abstractmethod
    async def purge_reports(self, verification_id: str, now: datetime) -> int:
        """Remove the sealed envelopes of the check's report versions and its sealed
        request; the number of report versions whose envelope was removed."""

    @abc.abstractmethod
    async def purge_records(self, verification_id: str, now: datetime) -> int:
        """Remove the sealed records and tickets of the check's outcomes; the number of
        outcomes that held any."""

    @abc.abstractmethod
    async def purge_cache(self, fetched_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` cached answers fetched before ``fetched_before``."""

    @abc.abstractmethod
    async def cache_held(self, fetched_before: datetime) -> int:
        """How many cached answers were fetched before ``fetched_before``."""

    @abc.abstractmethod
    async def purge_webhooks(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` webhook events created before ``created_before`` that
        every subscriber has acknowledged, with their deliveries and attempts."""

    @abc.abstractmethod
    async def webhooks_held(self, created_before: datetime) -> int:
        """How many acknowledged webhook events were created before ``created_before``."""

    @abc.abstractmethod
    async def purge_fragments(self, verification_id: str) -> int:
        """Remove the sealed envelopes of the fragments peers gave the check (the rows,
        with their hashes and provenance, stay); the number that held one."""

    @abc.abstractmethod
    async def purge_answers(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` answers given to peers created before ``created_before``,
        oldest first."""

    @abc.abstractmethod
    async def answers_held(self, created_before: datetime) -> int:
        """How many answers given to peers were created before ``created_before``."""
