"""Re-check jobs: one per roster entry and cycle, leased by one server process at a time.

A cycle is named by the day it is due. The job's key (entry id, cycle due day) is unique
in the database, and the check it starts carries a request id derived from that key, so
a replayed start (after a crash, or by another replica whose lease took over) is the
same check, never a second one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

__all__ = [
    "CheckOutcome",
    "JobState",
    "LastCheck",
    "RecheckJob",
    "RecheckState",
    "recheck_now_request_id",
    "recheck_request_id",
    "recheck_state",
]


class JobState(StrEnum):
    PENDING = "PENDING"
    """Due: waiting for a scheduler to start the check."""
    STARTED = "STARTED"
    """The check is recorded (its verification exists); its first report is awaited."""
    DONE = "DONE"
    """The first report was released and the entry's last check updated."""
    REAUTHORIZATION_NEEDED = "REAUTHORIZATION_NEEDED"
    """Not run: the 授权书 expired, was revoked or does not cover the check."""
    FAILED = "FAILED"
    """Not run: the entry cannot make a valid check (the reason names the fields)."""
    CANCELLED = "CANCELLED"
    """The entry was removed before its check started."""


OPEN_STATES = frozenset({JobState.PENDING, JobState.STARTED})


class CheckOutcome(StrEnum):
    COMPLETE = "COMPLETE"
    PARTIAL = "PARTIAL"
    RECORDED = "RECORDED"
    """A check the case system recorded in its import, not run by hedui."""


class RecheckState(StrEnum):
    """Where an entry's current cycle stands (what listings show)."""

    NOT_DUE = "NOT_DUE"
    DUE = "DUE"
    RUNNING = "RUNNING"
    REAUTHORIZATION_NEEDED = "REAUTHORIZATION_NEEDED"
    NO_CYCLE = "NO_CYCLE"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class LastCheck:
    check_date: date
    outcome: CheckOutcome
    verification_id: str = ""
    check_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecheckJob:
    """A leased job: what the scheduler needs to start the cycle's check."""

    id: str
    entry_id: str
    region: str
    household_ref: str
    cycle_due: date
    state: JobState
    request_id: str
    attempts: int
    verification_id: str = ""
    reason: str = ""
    on_demand: bool = False
    """Asked for now by staff (out of cycle); ``cycle_due`` is then the day it was asked."""
    urgent: bool = False
    """Run in the urgent lane (asked for now with ``urgent``)."""


_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def recheck_request_id(entry_id: str, cycle_due: date) -> str:
    """The request id of an entry's re-check for one cycle: the same every time it is
    asked for. Letters only, so it can never look like a resident ID number (the
    request id lands in the audit log)."""
    digest = hashlib.sha256(f"{entry_id}:{cycle_due.isoformat()}".encode()).hexdigest()
    return "recheck-" + digest[:40].translate(_LETTERS)


def recheck_now_request_id(entry_id: str, system: str, request_id: str) -> str:
    """The request id of a re-check asked for now: the same for every retry of the
    asking request (the calling system's ``request_id``), never a cycle's."""
    digest = hashlib.sha256(f"{entry_id}:now:{system}:{request_id}".encode()).hexdigest()
    return "recheck-" + digest[:40].translate(_LETTERS)


def recheck_state(next_due: date | None, job: JobState | None, today: date) -> RecheckState:
    """The state an entry shows, from its next due day and the job of that cycle."""
    if next_due is None:
        return RecheckState.NO_CYCLE
    if job is JobState.STARTED:
        return RecheckState.RUNNING
    if job is JobState.REAUTHORIZATION_NEEDED:
        return RecheckState.REAUTHORIZATION_NEEDED
    if job is JobState.FAILED:
        return RecheckState.FAILED
    if job is JobState.PENDING or next_due <= today:
        return RecheckState.DUE
    return RecheckState.NOT_DUE
