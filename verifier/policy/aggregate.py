"""Income and assets, per member and per household, over the assessment window.

Income records count only for the part of their period inside the window, prorated by
days (a record for 2024-01-01..2024-12-31 of 365 days contributes ``amount × d / 365`` for
``d`` days in the window). Sums stay exact (:class:`~fractions.Fraction`); each figure is
rounded half-up once, when it is shown or compared.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    CancellationReason,
    HouseholdRegistrationRecord,
    IncomeCategory,
    IncomeRecord,
    Provenance,
    RegistrationStatus,
    SourceKind,
    Window,
)
from verifier.domain.household import DeductionKind
from verifier.domain.money import dec_str, exact_str, half_up
from verifier.domain.outcomes import SourceStatus
from verifier.policy.inputs import (
    RIGID_EXPENSES,
    AssessmentInput,
    Deduction,
)
from verifier.policy.snapshot import Snapshot

VEHICLE_CATEGORIES = (AssetCategory.VEHICLE, AssetCategory.VESSEL)


def window_months(w: Window) -> Fraction:
    """Months in ``w``: whole calendar months count 1, a partial month its share of days."""
    total = Fraction(0)
    y, m = w.start.year, w.start.month
    while date(y, m, 1) <= w.end:
        days = calendar.monthrange(y, m)[1]
        first, last = date(y, m, 1), date(y, m, days)
        overlap = (min(last, w.end) - max(first, w.start)).days + 1
        total += Fraction(overlap, days)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return total


def overlap_share(start: date, end: date, w: Window) -> Fraction:
    """The share of the period ``start..end`` (inclusive) that lies inside ``w``."""
    if end < start:
        # A one-day period reported backwards is still one day; never divide by zero.
        start, end = end, start
    period = (end - start).days + 1
    inside = (min(end, w.end) - max(start, w.start)).days + 1
    return Fraction(max(0, inside), period)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A record that a figure rests on (provenance, never personal data)."""

    member: int
    source: str
    adapter: str
    adapter_version: str
    record_id: str
    as_of: str

    @staticmethod
    def of(member: int, p: Provenance) -> Evidence:
        return Evidence(
            member, p.source, p.adapter, p.adapter_version, p.record_id, p.as_of.isoformat()
        )

    def to_json(self) -> dict[str, object]:
        return {
            "member": self.member,
            "source": self.source,
            "adapter": self.adapter,
            "adapter_version": self.adapter_version,
            "record_id": self.record_id,
            "as_of": self.as_of,
        }


def _sort_evidence(items: Iterable[Evidence]) -> tuple[Evidence, ...]:
    return tuple(
        sorted(set(items), key=lambda e: (e.member, e.source, e.record_id, e.adapter, e.as_of))
    )


@dataclass(frozen=True)
class AssetTotals:
    """Asset figures for one member or the whole household."""

    value_fen: Mapping[AssetCategory, int]
    financial_fen: int
    real_estate_count: int
    real_estate_area_m2: Decimal
    """Known floor area; records without an area are counted in ``real_estate_area_unknown``."""
    real_estate_area_unknown: int
    vehicles_counted: int
    vehicles_exempt: int
    business_count: int
    business_value_fen: int
    count: Mapping[AssetCategory, int]
    evidence: Mapping[AssetCategory, tuple[Evidence, ...]]

    def to_json(self) -> dict[str, object]:
        return {
            "value_fen": {c.value: self.value_fen.get(c, 0) for c in AssetCategory},
            "count": {c.value: self.count.get(c, 0) for c in AssetCategory},
            "financial_fen": self.financial_fen,
            "real_estate": {
                "count": self.real_estate_count,
                "area_m2": dec_str(self.real_estate_area_m2),
                "area_unknown_count": self.real_estate_area_unknown,
            },
            "vehicles": {"counted": self.vehicles_counted, "exempt": self.vehicles_exempt},
            "business": {"count": self.business_count, "value_fen": self.business_value_fen},
        }


def _vehicle_exempt(r: AssetRecord, exempt: frozenset[str]) -> bool:
    return r.kind in exempt or r.details.get("vehicle_kind", "") in exempt


def asset_totals(
    items: Iterable[tuple[int, AssetRecord]], financial: frozenset[str], exempt: frozenset[str]
) -> AssetTotals:
    value: dict[AssetCategory, int] = {}
    count: dict[AssetCategory, int] = {}
    ev: dict[AssetCategory, list[Evidence]] = {}
    area = Decimal(0)
    unknown = counted = exempted = 0
    for member, r in items:
        value[r.category] = value.get(r.category, 0) + r.value_fen
        count[r.category] = count.get(r.category, 0) + r.count
        ev.setdefault(r.category, []).append(Evidence.of(member, r.provenance))
        if r.category is AssetCategory.REAL_ESTATE:
            if r.area_m2 is None:
                unknown += 1
            else:
                area += r.area_m2
        elif r.category in VEHICLE_CATEGORIES:
            if _vehicle_exempt(r, exempt):
                exempted += r.count
            else:
                counted += r.count
    return AssetTotals(
        value_fen=value,
        financial_fen=sum(v for c, v in value.items() if c.value in financial),
        real_estate_count=count.get(AssetCategory.REAL_ESTATE, 0),
        real_estate_area_m2=area,
        real_estate_area_unknown=unknown,
        vehicles_counted=counted,
        vehicles_exempt=exempted,
        business_count=count.get(AssetCategory.BUSINESS, 0),
        business_value_fen=value.get(AssetCategory.BUSINESS, 0),
        count=count,
        evidence={c: _sort_evidence(e) for c, e in ev.items()},
    )


@dataclass(frozen=True, slots=True)
class CancelledRegistration:
    """A member whose own registration answer is a cancellation (注销): why, since when
    (when the department says) and the record that shows it."""

    member: int
    reason: CancellationReason
    cancelled_on: date | None
    evidence: Evidence


@dataclass(frozen=True)
class MissingSource:
    member: int
    source: str
    status: str
    """FAILED / PENDING / DENIED, or ABSENT when no status was given at all."""


@dataclass(frozen=True)
class MemberAggregate:
    index: int
    income_exact: Mapping[IncomeCategory, Fraction]
    deductions_fen: int
    illness_fen: int
    monthly_income_exact: Fraction
    """Own income over the window per month, before deductions."""
    monthly_net_income_exact: Fraction
    """Own income less own deductions, per month, never below 0."""
    assets: AssetTotals
    missing: tuple[MissingSource, ...]

    @property
    def monthly_income_fen(self) -> int:
        """For display: :attr:`monthly_income_exact` half-up to the fen."""
        return half_up(self.monthly_income_exact)

    @property
    def monthly_net_income_fen(self) -> int:
        """For display: :attr:`monthly_net_income_exact` half-up to the fen."""
        return half_up(self.monthly_net_income_exact)

    @property
    def income_fen(self) -> dict[IncomeCategory, int]:
        return {c: half_up(self.income_exact.get(c, Fraction(0))) for c in IncomeCategory}

    @property
    def income_total_fen(self) -> int:
        return half_up(sum(self.income_exact.values(), Fraction(0)))


@dataclass(frozen=True)
class Aggregates:
    window: Window
    months: Fraction
    size: int
    size_registered: int | None
    size_declared: int | None
    members: tuple[MemberAggregate, ...]
    income_exact: Mapping[IncomeCategory, Fraction]
    income_evidence: Mapping[IncomeCategory, tuple[Evidence, ...]]
    deductions_fen: Mapping[DeductionKind, int]
    assets: AssetTotals
    monthly_per_capita_exact: Fraction
    """(window income − deductions, never below 0) ÷ months ÷ household size, exact."""
    missing: tuple[MissingSource, ...]
    registration_evidence: tuple[Evidence, ...]
    deduction_items: tuple[Deduction, ...] = ()
    cancelled_registrations: tuple[CancelledRegistration, ...] = ()
    """Members whose own registration is cancelled, by index; they are not counted in
    :attr:`size_registered`."""

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def monthly_per_capita_fen(self) -> int:
        """For display: :attr:`monthly_per_capita_exact` half-up to the fen."""
        return half_up(self.monthly_per_capita_exact)

    @property
    def income_total_exact(self) -> Fraction:
        return sum(self.income_exact.values(), Fraction(0))

    @property
    def income_total_fen(self) -> int:
        return half_up(self.income_total_exact)

    @property
    def deductions_total_fen(self) -> int:
        return sum(self.deductions_fen.values())

    @property
    def rigid_expenses_fen(self) -> int:
        return sum(v for k, v in self.deductions_fen.items() if k in RIGID_EXPENSES)

    def member(self, index: int) -> MemberAggregate:
        for m in self.members:
            if m.index == index:
                return m
        raise KeyError(index)

    def to_json(self) -> dict[str, object]:
        def income(ex: Mapping[IncomeCategory, Fraction]) -> dict[str, int]:
            out = {c.value: half_up(ex.get(c, Fraction(0))) for c in IncomeCategory}
            out["total"] = half_up(sum(ex.values(), Fraction(0)))
            return out

        ded = {k.value: self.deductions_fen.get(k, 0) for k in DeductionKind}
        ded["total"] = self.deductions_total_fen
        items = [
            {
                "kind": d.kind.value,
                "amount_fen": d.amount_fen,
                "evidence": d.evidence,
                "member": d.member_index,
            }
            for d in self.deduction_items
        ]
        return {
            "window": {
                "start": self.window.start.isoformat(),
                "end": self.window.end.isoformat(),
                "months": dec_str(self.months, 4),
            },
            "household_size": self.size,
            "household_size_registered": self.size_registered,
            "household_size_declared": self.size_declared,
            "income_fen": income(self.income_exact),
            "deductions_fen": ded,
            "deduction_items": items,
            "monthly_per_capita_income_fen": self.monthly_per_capita_fen,
            "monthly_per_capita_income_exact": exact_str(self.monthly_per_capita_exact),
            "assets": self.assets.to_json(),
            "members": [
                {
                    "index": m.index,
                    "income_fen": income(m.income_exact),
                    "deductions_fen": m.deductions_fen,
                    "monthly_income_fen": m.monthly_income_fen,
                    "monthly_net_income_fen": m.monthly_net_income_fen,
                    "monthly_net_income_exact": exact_str(m.monthly_net_income_exact),
                    "assets": m.assets.to_json(),
                }
                for m in self.members
            ],
            "completeness": {
                "complete": self.complete,
                "missing": [
                    {"member": x.member, "source": x.source, "status": x.status}
                    for x in self.missing
                ],
            },
        }


def _monthly(total: Fraction, months: Fraction, size: int = 1) -> Fraction:
    """``total`` (never below 0) per month and per person, exact."""
    if months <= 0:
        return Fraction(0)
    return max(total, Fraction(0)) / months / size


def aggregate(inp: AssessmentInput, snap: Snapshot) -> Aggregates:
    """Aggregate ``inp`` under the policy parameters in ``snap``."""
    w = inp.assessment_window
    months = window_months(w)
    financial = frozenset(snap.financial_asset_categories)
    exempt = frozenset(snap.vehicle_exempt_kinds)
    required = tuple(sorted(snap.required_sources))
    members = sorted(inp.members, key=lambda m: m.index)

    hh_income: dict[IncomeCategory, Fraction] = {}
    hh_income_ev: dict[IncomeCategory, list[Evidence]] = {}
    hh_assets: list[tuple[int, AssetRecord]] = []
    registered: set[tuple[str, str]] = set()
    deregistered: set[tuple[str, str]] = set()
    cancellations: dict[tuple[int, str], CancelledRegistration] = {}
    reg_ev: list[Evidence] = []
    member_aggs: list[MemberAggregate] = []
    all_missing: list[MissingSource] = []

    for m in members:
        records = inp.records.get(m.index, ())
        income: dict[IncomeCategory, Fraction] = {}
        own_assets: list[tuple[int, AssetRecord]] = []
        for r in records:
            if isinstance(r, IncomeRecord):
                share = overlap_share(r.period_start, r.period_end, w)
                if share == 0:
                    continue
                part = r.amount_fen * share
                income[r.category] = income.get(r.category, Fraction(0)) + part
                hh_income[r.category] = hh_income.get(r.category, Fraction(0)) + part
                hh_income_ev.setdefault(r.category, []).append(Evidence.of(m.index, r.provenance))
            elif isinstance(r, AssetRecord):
                own_assets.append((m.index, r))
            elif isinstance(r, HouseholdRegistrationRecord):
                ev = Evidence.of(m.index, r.provenance)
                reg_ev.append(ev)
                people = {(rm.id_type, rm.id_number) for rm in r.members}
                if r.status is RegistrationStatus.CANCELLED:
                    # The department's record of the member asked about, alone: they are
                    # no longer registered, even where a 户口簿 answer not yet updated
                    # still lists them.
                    deregistered |= people
                    reason = r.cancel_reason or CancellationReason.OTHER
                    cancellations[(m.index, ev.record_id)] = CancelledRegistration(
                        m.index, reason, r.cancelled_on, ev
                    )
                else:
                    registered |= people
            # ContributionRecords are evidence of employment, not income: the wage itself
            # arrives as an IncomeRecord from tax or social insurance.
        hh_assets.extend(own_assets)
        own_ded = [d for d in inp.deductions if d.member_index == m.index]
        ded = sum(d.amount_fen for d in own_ded)
        illness = sum(d.amount_fen for d in own_ded if d.kind is DeductionKind.ILLNESS)
        statuses = inp.sources.get(m.index, {})
        missing = []
        for src in required:
            st = statuses.get(SourceKind(src))
            if st is None or not SourceStatus(st).answered:
                missing.append(MissingSource(m.index, src, "ABSENT" if st is None else str(st)))
        all_missing.extend(missing)
        total = sum(income.values(), Fraction(0))
        member_aggs.append(
            MemberAggregate(
                index=m.index,
                income_exact=income,
                deductions_fen=ded,
                illness_fen=illness,
                monthly_income_exact=_monthly(total, months),
                monthly_net_income_exact=_monthly(total - ded, months),
                assets=asset_totals(own_assets, financial, exempt),
                missing=tuple(missing),
            )
        )

    deductions: dict[DeductionKind, int] = {}
    for d in inp.deductions:
        deductions[d.kind] = deductions.get(d.kind, 0) + d.amount_fen
    hh_total = sum(hh_income.values(), Fraction(0))
    net = hh_total - sum(deductions.values())
    declared = inp.declaration.member_count if inp.declaration is not None else None
    return Aggregates(
        window=w,
        months=months,
        size=len(members),
        size_registered=len(registered - deregistered) if reg_ev else None,
        size_declared=declared,
        members=tuple(member_aggs),
        income_exact=hh_income,
        income_evidence={c: _sort_evidence(e) for c, e in hh_income_ev.items()},
        deductions_fen=deductions,
        assets=asset_totals(hh_assets, financial, exempt),
        monthly_per_capita_exact=_monthly(net, months, len(members)),
        missing=tuple(all_missing),
        registration_evidence=_sort_evidence(reg_ev),
        deduction_items=tuple(
            sorted(
                inp.deductions,
                key=lambda d: (
                    d.kind.value,
                    -1 if d.member_index is None else d.member_index,
                    d.amount_fen,
                    d.evidence,
                ),
            )
        ),
        cancelled_registrations=tuple(cancellations[k] for k in sorted(cancellations)),
    )


__all__ = [
    "Aggregates",
    "AssetTotals",
    "CancelledRegistration",
    "Evidence",
    "MemberAggregate",
    "MissingSource",
    "aggregate",
    "overlap_share",
    "window_months",
]
