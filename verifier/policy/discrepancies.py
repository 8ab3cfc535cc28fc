"""Declared vs found: differences beyond a tolerance, worded as evidence, not a verdict.

Whether a declaration was untrue (诚信, 失信记录) is the case system's and a person's
decision; this module only lists where the departments' records differ from what the
household declared, and which records show it.

Income is compared as a monthly average over the window; asset values as totals; real
estate, vehicles and vessels by count (registries rarely value them). The tolerance for a
category is the larger of its absolute fen and its percentage of the found figure
(``discrepancy_tolerance_fen[_<category>]``, ``discrepancy_tolerance_percent[_<category>]``).
When some required source has not answered, a "found less than declared" difference is
not reported: the missing source may hold the rest.

A member on the check (the household declared them) whose own registration is cancelled
(户籍已注销：死亡, 迁出 or 其他) is listed too, whether or not income and assets were
declared: the check counts someone the 户籍 no longer registers. Members are named by
index and relation only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from hedui_sdk import AssetCategory, IncomeCategory
from verifier.domain.labels import (
    ASSET_LABELS,
    CANCELLATION_LABELS,
    INCOME_LABELS,
    RELATION_LABELS,
    label,
)
from verifier.domain.money import exact_str, fen_text, half_up, yuan
from verifier.policy.aggregate import Aggregates, Evidence
from verifier.policy.inputs import AssessmentInput, DeclaredPeriod
from verifier.policy.snapshot import Snapshot
from verifier.policy.specs import P
from verifier.policy.typed import OptionalParam, Param, T

COUNTED = (AssetCategory.VEHICLE, AssetCategory.VESSEL, AssetCategory.REAL_ESTATE)


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    """``income`` (fen per month), ``asset_value`` (fen), ``asset_count``, ``household_size``
    or ``registration_cancelled`` (persons: declared 1, registered 0; the category is the
    :class:`~hedui_sdk.CancellationReason`); and from the departments that verify members'
    circumstances (:mod:`verifier.policy.fact_discrepancies`): ``disability`` (grade, 0 for
    none), ``serious_illness``, ``in_school``, ``employment`` (flags 0/1), ``deceased``
    (persons: listed 1, living 0), ``spouse_divorced`` (persons: listed as spouse 1, married
    0) and ``rigid_expense`` (fen over the window; the category
    is the :class:`~verifier.domain.household.DeductionKind`)."""
    category: str
    declared: int
    found: int
    tolerance: int
    text: str
    reference: str
    evidence: tuple[Evidence, ...]
    exact: Mapping[str, str] = field(default_factory=dict)
    """Exact values (``"p/q"`` fen) of the figures compared, where not a whole fen."""

    @property
    def difference(self) -> int:
        return self.found - self.declared

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "category": self.category,
            "declared": self.declared,
            "found": self.found,
            "difference": self.difference,
            "tolerance": self.tolerance,
            "unit": {
                "income": "fen_per_month",
                "asset_value": "fen",
                "asset_count": "count",
                "household_size": "persons",
                "registration_cancelled": "persons",
                "disability": "grade",
                "serious_illness": "flag",
                "in_school": "flag",
                "employment": "flag",
                "deceased": "persons",
                "spouse_divorced": "persons",
                "rigid_expense": "fen",
            }[self.kind],
            "text": self.text,
            "reference": self.reference,
            "evidence": [e.to_json() for e in self.evidence],
            "exact": dict(self.exact),
        }


def _own_or_general(snap: Snapshot, own: OptionalParam[T], general: Param[T]) -> tuple[T, str]:
    """A category's own tolerance where the policy states one, else the general one."""
    value = snap.find(own)
    return (value, own.name) if value is not None else (snap.get(general), general.name)


def _tolerance(snap: Snapshot, category: str, found: Fraction | int) -> tuple[Fraction, str]:
    """The exact tolerance for ``category`` (compared exactly; shown rounded)."""
    fen, abs_name = _own_or_general(
        snap, P.category_tolerance_fen[category], P.discrepancy_tolerance_fen
    )
    percent, pct_name = _own_or_general(
        snap, P.category_tolerance_percent[category], P.discrepancy_tolerance_percent
    )
    tol = max(Fraction(fen), abs(Fraction(found)) * Fraction(percent) / 100)
    return tol, snap.ref(abs_name, pct_name)


def _cancellations(inp: AssessmentInput, agg: Aggregates) -> list[Discrepancy]:
    relations = {m.index: m.relation for m in inp.members}
    out = []
    for c in agg.cancelled_registrations:
        when = "" if c.cancelled_on is None else f"（注销日期 {c.cancelled_on.isoformat()}）"
        out.append(
            Discrepancy(
                "registration_cancelled",
                c.reason.value,
                1,
                0,
                0,
                f"申报的家庭成员 {c.member}（{label(RELATION_LABELS, relations[c.member])}）"
                f"户籍已注销：{CANCELLATION_LABELS[c.reason]}{when}；"
                "不计入户籍登记人数，供核实",
                "",
                (c.evidence,),
            )
        )
    return out


def find_discrepancies(
    inp: AssessmentInput, agg: Aggregates, snap: Snapshot
) -> tuple[Discrepancy, ...]:
    decl = inp.declaration
    if decl is None:
        return tuple(_cancellations(inp, agg))
    out: list[Discrepancy] = []

    declared_income: dict[IncomeCategory, Fraction] = {}
    for d in decl.income:
        monthly = Fraction(d.amount_fen, 12 if d.period is DeclaredPeriod.ANNUAL else 1)
        declared_income[d.category] = declared_income.get(d.category, Fraction(0)) + monthly
    for cat in IncomeCategory:
        declared_exact = declared_income.get(cat, Fraction(0))
        window_total = agg.income_exact.get(cat, Fraction(0))
        found_exact = window_total / agg.months if agg.months else Fraction(0)
        tol_exact, ref = _tolerance(snap, cat.value, found_exact)
        diff_exact = found_exact - declared_exact
        # Compared on the exact figures; the report shows each rounded to the fen once.
        if abs(diff_exact) <= tol_exact or (diff_exact < 0 and not agg.complete):
            continue
        declared, found, tol = half_up(declared_exact), half_up(found_exact), half_up(tol_exact)
        exact = {
            k: exact_str(v)
            for k, v in (
                ("declared", declared_exact),
                ("found", found_exact),
                ("difference", diff_exact),
                ("tolerance", tol_exact),
            )
            if v.denominator != 1
        }
        label = INCOME_LABELS[cat]
        out.append(
            Discrepancy(
                "income",
                cat.value,
                declared,
                found,
                tol,
                f"申报{label}月均 {fen_text(declared_exact)}；部门记录显示窗口期月均 "
                f"{fen_text(found_exact)}，相差 {fen_text(abs(diff_exact))}，"
                f"超出容差 {fen_text(tol_exact)}",
                ref,
                agg.income_evidence.get(cat, ()),
                exact,
            )
        )

    for acat in AssetCategory:
        label = ASSET_LABELS[acat]
        ev = agg.assets.evidence.get(acat, ())
        if acat in COUNTED:
            declared = decl.asset_counts.get(acat, 0)
            found = agg.assets.count.get(acat, 0)
            diff = found - declared
            if diff == 0 or (diff < 0 and not agg.complete):
                continue
            out.append(
                Discrepancy(
                    "asset_count",
                    acat.value,
                    declared,
                    found,
                    0,
                    f"申报{label} {declared} 处（辆）；部门记录显示 {found} 处（辆）",
                    "",
                    ev,
                )
            )
            continue
        declared = decl.asset_values_fen.get(acat, 0)
        found = agg.assets.value_fen.get(acat, 0)
        tol_exact, ref = _tolerance(snap, acat.value, found)
        tol = half_up(tol_exact)
        diff = found - declared
        if abs(diff) <= tol_exact or (diff < 0 and not agg.complete):
            continue
        tol_note = "" if tol_exact.denominator == 1 else f"（精确值 {exact_str(tol_exact)} 分）"
        out.append(
            Discrepancy(
                "asset_value",
                acat.value,
                declared,
                found,
                tol,
                f"申报{label} {yuan(declared)} 元；部门记录显示 {yuan(found)} 元，"
                f"相差 {yuan(abs(diff))} 元，超出容差 {yuan(tol)} 元{tol_note}",
                ref,
                ev,
                {"tolerance": exact_str(tol_exact)} if tol_note else {},
            )
        )

    if (
        decl.member_count is not None
        and agg.size_registered is not None
        and decl.member_count != agg.size_registered
    ):
        out.append(
            Discrepancy(
                "household_size",
                "members",
                decl.member_count,
                agg.size_registered,
                0,
                f"申报家庭成员 {decl.member_count} 人；户籍记录登记 {agg.size_registered} 人"
                f"（本次核对共同生活成员 {agg.size} 人；"
                "户籍人数与共同生活人数可能依法不同，供核实）",
                "",
                agg.registration_evidence,
            )
        )
    out.extend(_cancellations(inp, agg))
    return tuple(out)
