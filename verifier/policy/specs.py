"""The parameter table: every parameter a policy file may state, its bounds and its type.

:class:`Parameters` is the one table. Its attributes are typed parameters
(:mod:`verifier.policy.typed`): the file checker takes the names and bounds from it
(:data:`SPECS`), and the rules read the values through it with their types.
"""

from __future__ import annotations

from collections.abc import Mapping

from hedui_sdk import AssetCategory, IncomeCategory, SourceKind
from verifier.domain.alerts.reasons import ALERT_REASONS
from verifier.policy.policies import Spec
from verifier.policy.typed import (
    Family,
    Reader,
    choice,
    decimal,
    fen,
    flag,
    integer,
    multiplier,
    numbers,
    optional,
    percent,
    ratio,
    spec_table,
    words,
)

_ASSET_NAMES = frozenset(c.value for c in AssetCategory)
_SOURCE_NAMES = frozenset(s.value for s in SourceKind)
_GRADES: frozenset[int] = frozenset({1, 2, 3, 4})
_CATEGORIES: tuple[str, ...] = tuple(c.value for c in (*IncomeCategory, *AssetCategory))
BASES: frozenset[str] = frozenset({"urban", "household"})
"""What a 临时救助 band multiplies: the urban 低保 standard, or the household's own."""
TIE_RULES: frozenset[str] = frozenset({"family", "exact"})
"""How a comparison settles a fraction of a fen: ``family`` gives it to the family (the
income figure is taken down, a limit the family must stay under up, a figure it must
reach down, each to the whole fen); ``exact`` compares the exact rationals."""
LINSHI_BANDS: tuple[str, ...] = ("emergency", "expense", "illness", "schooling")
ALERT_LEVELS: tuple[str, ...] = ("high", "medium", "low")
"""Risk levels of an alert (监测预警): ``alert_<level>_risk_reasons`` and
``alert_<level>_risk_working_days``."""
FACTS: tuple[str, ...] = (
    "disability", "serious_illness", "in_school", "employment", "alive",
    "medical_costs", "school_fees",
)  # fmt: skip
"""Facts about members that departments can verify (:mod:`verifier.policy.facts`)."""
FACT_BASES: frozenset[str] = frozenset({"verified", "declared"})
"""``verified``: the region requires the department's answer, and a rule resting on a
declaration its source did not confirm goes to review; ``declared``: the region accepts
the declaration while the source cannot answer (the answer, when there is one, still wins)."""
RECHECK_CLASSES: tuple[str, ...] = (
    "dibao_a", "dibao_b", "dibao_c", "tekun", "dibao_bianyuan", "linshi", "yinbing_zhipin",
)  # fmt: skip
"""Roster classes a re-check cycle may be set for (``recheck_months_<class>``)."""


class Parameters(Reader):
    """The parameters of a policy as read on one day, each with its type."""

    dibao_standard_urban = fen(minimum=1)
    dibao_standard_rural = fen(minimum=1)
    # 《社会救助暂行办法》及民发〔2021〕43号: 特困人员基本生活标准不低于城市低保标准的1.5倍、
    # 农村低保标准的1.3倍. The floor is the seed documents', not a region's choice.
    tekun_multiplier_urban = multiplier("1.5", "特困基本生活标准不得低于城市低保标准 1.5 倍")
    tekun_multiplier_rural = multiplier("1.3", "特困基本生活标准不得低于农村低保标准 1.3 倍")
    tekun_elderly_age = integer(0, 120)
    tekun_minor_age = integer(0, 18)
    tekun_disability_grades = numbers(_GRADES)
    bianyuan_multiplier = multiplier()
    taper_ceiling_multiplier = multiplier()
    # 渐退 lasts a range of months the caseworker chooses within (绩溪: 1–6).
    taper_min_months = integer(1, 6)
    taper_max_months = integer(1, 6)
    financial_asset_categories = words(_ASSET_NAMES)
    dibao_financial_asset_months = integer(0)
    bianyuan_financial_asset_months = integer(0)
    real_estate_max_count = integer(0)
    real_estate_max_area_per_capita_m2 = decimal()
    vehicle_max_count = integer(0)
    vehicle_exempt_kinds = words()
    business_max_value_fen = fen(minimum=0)
    single_person_disability_grades = numbers(_GRADES)
    single_person_serious_illness = flag()
    single_person_min_age = integer(0, 120)
    single_person_household_multiplier = multiplier()
    # 临时救助 bands exist only where a region's own document states them; without one
    # the amount is set under the provincial and national rule (国发〔2014〕47号).
    linshi_min_multiplier = Family("linshi_{}_min_multiplier", LINSHI_BANDS, multiplier())
    linshi_max_multiplier = Family("linshi_{}_max_multiplier", LINSHI_BANDS, multiplier())
    linshi_base = Family("linshi_{}_base", LINSHI_BANDS, choice(BASES))
    linshi_case_by_case = optional(flag())
    linshi_expense_income_multiplier = multiplier()
    yinbing_income_multiplier = multiplier()
    yinbing_medical_expense_ratio = ratio()
    discrepancy_tolerance_fen = fen(minimum=0)
    discrepancy_tolerance_percent = percent()
    required_sources = words(_SOURCE_NAMES)
    fen_tie_rule = choice(TIE_RULES)
    # Time limits on a whole check (verifier.domain.time_limits): optional, so a policy
    # file written before them still loads; a region without them gives no due date.
    check_due_working_days = optional(integer(1, 60))
    urgent_due_hours = optional(integer(1, 168))
    category_tolerance_fen = Family("discrepancy_tolerance_fen_{}", _CATEGORIES, fen(minimum=0))
    category_tolerance_percent = Family("discrepancy_tolerance_percent_{}", _CATEGORIES, percent())
    # 动态管理: months between re-checks of a roster household, per class. Optional: a
    # class without one is never re-checked on a schedule (临时救助 is usually one-off).
    recheck_months = Family("recheck_months_{}", RECHECK_CLASSES, integer(1, 36))
    # 监测预警 (verifier.service.monitoring.rules): the reason codes of each risk level and
    # the working days each level gives staff to act. Optional, but all six together.
    alert_risk_reasons = Family("alert_{}_risk_reasons", ALERT_LEVELS, words(ALERT_REASONS))
    alert_risk_working_days = Family("alert_{}_risk_working_days", ALERT_LEVELS, integer(1, 60))
    # Retention (档案 and 安全保密, verifier.service.retention): how long after a check is
    # done its sealed reports (and the request), its source records, and cached answers are
    # kept. Optional: a region without one keeps that kind of data until it states one.
    retention_report_months = optional(integer(1, 360))
    retention_source_records_months = optional(integer(1, 360))
    retention_cache_days = optional(integer(1, 3650))
    # Which facts the region requires verified by their department, and which it accepts as
    # declared while that department cannot answer (some counties cannot reach every one
    # yet). Optional: a region stating none accepts the declaration, as before the sources
    # existed; every report says, per fact, which it was.
    fact_basis = Family("fact_basis_{}", FACTS, choice(FACT_BASES))


SPECS: Mapping[str, Spec] = spec_table(Parameters)
"""Every parameter by name: what a policy file may hold for it."""

P = Parameters
"""The table itself: ``P.dibao_standard_urban`` is the parameter, not a value."""

RANGE_PAIRS: tuple[tuple[str, str], ...] = (
    *((P.linshi_min_multiplier[b].name, P.linshi_max_multiplier[b].name) for b in LINSHI_BANDS),
    (P.bianyuan_multiplier.name, P.taper_ceiling_multiplier.name),
    (P.taper_min_months.name, P.taper_max_months.name),
)
"""(lower, upper) pairs that must stay ordered on every date either changes."""

BAND_PARTS: Mapping[str, tuple[str, ...]] = {
    b: (P.linshi_min_multiplier[b].name, P.linshi_max_multiplier[b].name, P.linshi_base[b].name)
    for b in LINSHI_BANDS
}
"""A 临时救助 band is its range and the standard it multiplies: all three, or none."""

ALERT_PARTS: tuple[str, ...] = (
    *(p.name for p in P.alert_risk_reasons),
    *(p.name for p in P.alert_risk_working_days),
)
"""The alert parameters, which go together."""
