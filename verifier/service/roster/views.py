"""What the roster use cases take and give: who may do what, the bounds of a request,
an entry as shown, a listing's filters and page, an import's result."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from verifier.domain.errors import FieldViolation
from verifier.domain.household import Declaration, Member, Purpose
from verifier.domain.ports import RosterRecord
from verifier.domain.roster import RecheckState, RosterClass
from verifier.domain.vocabulary import Role

__all__ = [
    "IMPORT_MAX",
    "IMPORT_ROLES",
    "PAGE_SIZE_DEFAULT",
    "PAGE_SIZE_MAX",
    "READ_ROLES",
    "REGION_PREFIX",
    "REMOVE_REASON_MAX",
    "ImportResult",
    "RosterFilter",
    "RosterPage",
    "RosterView",
]

IMPORT_ROLES = frozenset({Role.CASEWORKER.value, Role.ADMIN.value})
READ_ROLES = frozenset({Role.CASEWORKER.value, Role.REVIEWER.value, Role.ADMIN.value})
IMPORT_MAX = 1000
REMOVE_REASON_MAX = 256
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000
REGION_PREFIX = re.compile(r"[1-9][0-9](?:[0-9]{2}){0,2}", re.ASCII)


@dataclass(frozen=True, slots=True)
class RosterView:
    """An entry as shown: the record, where its cycle stands, and (``show`` only) its
    household, unsealed for the API to mask."""

    record: RosterRecord
    state: RecheckState
    overdue: bool
    members: tuple[Member, ...] = ()
    declaration: Declaration | None = None


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    without_cycle: int = 0
    rejected: tuple[tuple[int, tuple[FieldViolation, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class RosterFilter:
    """A listing's filters as the caller gave them (unset: not filtered)."""

    region: str = ""
    program: Purpose | None = None
    roster_class: RosterClass | None = None
    due_before: date | None = None
    overdue: bool = False
    page_size: int = 0
    page_token: str = ""
    violations: tuple[FieldViolation, ...] = ()
    """What the translation already found wrong (an unknown enum number, a bad date)."""

    def key(self) -> dict[str, str]:
        return {
            "region": self.region,
            "program": self.program.value if self.program else "",
            "roster_class": self.roster_class.value if self.roster_class else "",
            "due_before": self.due_before.isoformat() if self.due_before else "",
            "overdue": "1" if self.overdue else "",
        }


@dataclass(frozen=True, slots=True)
class RosterPage:
    entries: tuple[RosterView, ...]
    next_page_token: str
