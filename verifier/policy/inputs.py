"""What an assessment is asked about: one household, its members, the records found.

Everything is plain frozen data. Money is integer fen. Members are named by an index
only: the policy layer never needs (and never sees) an ID number or a name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from hedui_sdk import AssetCategory, IncomeCategory, Record, SourceKind, Window
from verifier.domain.household import DeductionKind, HukouNature, Purpose, SupporterStatus
from verifier.domain.outcomes import SourceStatus

_REGION = re.compile(r"[1-9][0-9]{5}")


RIGID_EXPENSES = frozenset(
    {DeductionKind.ILLNESS, DeductionKind.DISABILITY_CARE, DeductionKind.SCHOOLING}
)


class DeclaredPeriod(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"


@dataclass(frozen=True, slots=True)
class Member:
    """A household member (共同生活的家庭成员), known by ``index`` only.

    ``age`` or ``birth_date`` (the latter wins when both are given); both ``None`` means
    unknown, which sends any age-dependent rule to review.
    """

    index: int
    relation: str
    age: int | None = None
    birth_date: date | None = None
    disability_grade: int | None = None
    serious_illness: bool = False
    in_school: bool = False
    able_to_work: bool | None = None
    supporter: SupporterStatus = SupporterStatus.UNKNOWN

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError("member index must be >= 0")
        if self.disability_grade is not None and not 1 <= self.disability_grade <= 4:
            raise ValueError(f"member {self.index}: disability_grade must be 1–4 or None")
        if self.age is not None and not 0 <= self.age <= 150:
            raise ValueError(f"member {self.index}: age out of range")

    def age_on(self, day: date) -> int | None:
        """Full years on ``day``."""
        if self.birth_date is not None:
            b = self.birth_date
            return day.year - b.year - ((day.month, day.day) < (b.month, b.day))
        return self.age


@dataclass(frozen=True, slots=True)
class Deduction:
    """An expense deducted from household income over the window, with its evidence.

    ``amount_fen`` is the total over the assessment window (not per month).
    ``member_index`` names whose expense it is when known (used by 单人户 and 因病致贫).
    """

    kind: DeductionKind
    amount_fen: int
    evidence: str
    member_index: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int):
            raise TypeError("deduction amount_fen must be an int (fen)")
        if self.amount_fen < 0:
            raise ValueError("deduction amount_fen must be >= 0")
        if not self.evidence.strip():
            raise ValueError("a deduction needs an evidence reference")


@dataclass(frozen=True, slots=True)
class DeclaredIncome:
    category: IncomeCategory
    amount_fen: int
    period: DeclaredPeriod = DeclaredPeriod.MONTHLY


@dataclass(frozen=True)
class Declaration:
    """What the household declared (家庭经济状况申报). Absent categories mean "declared none"."""

    income: tuple[DeclaredIncome, ...] = ()
    asset_values_fen: Mapping[AssetCategory, int] = field(default_factory=dict)
    asset_counts: Mapping[AssetCategory, int] = field(default_factory=dict)
    member_count: int | None = None


def default_window(request_date: date) -> Window:
    """The 12 whole calendar months before the request month.

    Whole months keep the month count an integer (12), so a monthly average is the window
    total divided by 12 with no partial-month weighting; and the request month, which is
    still in progress, is never half-counted.
    """
    first = request_date.replace(day=1)
    return Window(start=first.replace(year=first.year - 1), end=first - timedelta(days=1))


@dataclass(frozen=True)
class AssessmentInput:
    """One household to assess.

    ``records`` maps member index → the SDK records the sources returned for that member.
    ``sources`` maps member index → source kind → what that source answered; a source the
    policy requires that is absent here counts as not answered (never as "no record").
    ``current_programs`` are the programs the household already receives (渐退 applies
    only to current 低保 households).
    """

    region: str
    request_date: date
    hukou: HukouNature
    members: tuple[Member, ...]
    records: Mapping[int, tuple[Record, ...]] = field(default_factory=dict)
    sources: Mapping[int, Mapping[SourceKind, SourceStatus]] = field(default_factory=dict)
    deductions: tuple[Deduction, ...] = ()
    declaration: Declaration | None = None
    window: Window | None = None
    current_programs: frozenset[Purpose] = frozenset()

    def __post_init__(self) -> None:
        if not _REGION.fullmatch(self.region):
            raise ValueError("region must be a 6-digit GB/T 2260 code")
        if not self.members:
            raise ValueError("a household needs at least one member")
        indexes = [m.index for m in self.members]
        if len(set(indexes)) != len(indexes):
            raise ValueError("member indexes must be unique")
        known = set(indexes)
        for where, keys in (("records", self.records), ("sources", self.sources)):
            stray = set(keys) - known
            if stray:
                raise ValueError(f"{where} name unknown member indexes {sorted(stray)}")
        for d in self.deductions:
            if d.member_index is not None and d.member_index not in known:
                raise ValueError(f"deduction names unknown member index {d.member_index}")
        w = self.window
        if w is not None and w.start > w.end:
            raise ValueError("window start is after its end")

    @property
    def assessment_window(self) -> Window:
        return self.window if self.window is not None else default_window(self.request_date)
