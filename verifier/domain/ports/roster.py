"""The roster repository: the households a region supports, their personal data sealed.

An entry is named by (region, household_ref) and identified by an ``id`` that a removed
and re-imported household does not share (its re-check jobs are new). Members' keyed
subject references are kept in plain, so an alert or a warning about a person finds the
household without unsealing anything.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from verifier.domain.household import Declaration, HukouNature, Member, Purpose
from verifier.domain.roster.entry import RosterClass, RosterEntry
from verifier.domain.roster.recheck import CheckOutcome, JobState, LastCheck


@dataclass(frozen=True, slots=True)
class Cycle:
    """The re-check cycle that applied when the due day was computed."""

    months: int
    reference: str
    example: bool


@dataclass(frozen=True, slots=True)
class Schedule:
    """When the entry's next re-check is due, and why (``None`` due: no cycle)."""

    next_due: date | None
    cycle: Cycle | None


@dataclass(frozen=True, slots=True)
class RosterRecord:
    """A stored entry without its personal data."""

    id: str
    household_ref: str
    region: str
    programs: tuple[Purpose, ...]
    roster_class: RosterClass
    authorization_number: str
    case_ref: str
    hukou: HukouNature
    member_count: int
    subject_refs: tuple[str, ...]
    content_digest: str
    imported_check: date | None
    hedui_check: LastCheck | None
    schedule: Schedule
    owner_system: str
    created_at: datetime
    updated_at: datetime
    job_state: JobState | None = None
    """The state of the job of the cycle now due (``None``: no job yet)."""
    job_reason: str = ""

    @property
    def last_check(self) -> LastCheck | None:
        """hedui's last check, or the case system's if it recorded a later one."""
        mine, theirs = self.hedui_check, self.imported_check
        if theirs is not None and (mine is None or theirs > mine.check_date):
            return LastCheck(theirs, CheckOutcome.RECORDED)
        return mine


@dataclass(frozen=True, slots=True)
class RosterQuery:
    """A page of entries. ``regions`` are GB/T 2260 prefixes, at least one of which must
    cover the entry's region. ``due_by``: due on or before that day; ``overdue_on``: due
    before that day (past due). With ``by_due`` the order is (next due, region,
    household_ref), else (region, household_ref); ``after`` is the last key of the
    previous page in that order."""

    regions: tuple[str, ...]
    limit: int
    program: Purpose | None = None
    roster_class: RosterClass | None = None
    due_by: date | None = None
    overdue_on: date | None = None
    by_due: bool = False
    after: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class NewContent:
    """What an import stores about an entry (the entry itself is sealed)."""

    entry: RosterEntry
    subject_refs: Sequence[str]
    content_digest: str
    schedule: Schedule


class RosterRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, region: str, household_ref: str) -> RosterRecord | None: ...

    @abc.abstractmethod
    async def get_by_id(self, entry_id: str) -> RosterRecord | None: ...

    @abc.abstractmethod
    async def lock(self, region: str, household_ref: str) -> RosterRecord | None:
        """The entry, locked until the end of this unit of work."""

    @abc.abstractmethod
    async def find_ref(self, household_ref: str, regions: Sequence[str]) -> list[RosterRecord]:
        """Entries with this reference in any region the prefixes cover."""

    @abc.abstractmethod
    async def household(self, entry_id: str) -> tuple[tuple[Member, ...], Declaration | None]:
        """The entry's members and declaration, unsealed; KeyError if there is none."""

    @abc.abstractmethod
    async def add(
        self, entry_id: str, content: NewContent, *, owner_system: str, now: datetime
    ) -> None:
        """A new entry. Another with the same (region, household_ref) is a Conflict (at
        the latest when the unit commits)."""

    @abc.abstractmethod
    async def replace(self, entry_id: str, content: NewContent, *, now: datetime) -> None:
        """New content for an existing entry (its hedui check is kept)."""

    @abc.abstractmethod
    async def record_check(self, entry_id: str, check: LastCheck, schedule: Schedule) -> None:
        """A check hedui ran, and the schedule that follows from it."""

    @abc.abstractmethod
    async def remove(self, entry_id: str) -> None:
        """Delete the entry and its sealed data."""

    @abc.abstractmethod
    async def page(self, query: RosterQuery) -> list[RosterRecord]:
        """At most ``query.limit`` matching entries in the query's order."""
