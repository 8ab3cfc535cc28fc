"""An income change: the month's records from the effective month on, and for wages the
contributions that follow them. See :mod:`hedui_sdk.sandbox.evolve` for the rules."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

from hedui_sdk.contract import SourceKind
from hedui_sdk.records import EmploymentStatus, IncomeCategory
from hedui_sdk.sandbox.counties import COUNTY_BY_CODE
from hedui_sdk.sandbox.economics import (
    COMPANY_NAMES,
    EMPLOYEE_SCHEMES,
    pension_agency,
    place_name,
    provident_fund_paid,
    social_insurance_base,
)
from hedui_sdk.sandbox.event_types import FieldError, IncomeChange, IncomeStream
from hedui_sdk.sandbox.evidence_facts import EmploymentFact
from hedui_sdk.sandbox.evolve_base import EvolutionBase, half_up, month_starts, swap, with_facts
from hedui_sdk.sandbox.facts import AssetFact, ContributionFact, Fact, IncomeFact
from hedui_sdk.sandbox.numbering import month_end
from hedui_sdk.sandbox.people import Household, Person

_PER_MILLE = dict(EMPLOYEE_SCHEMES)
_PENSION_KINDS = frozenset({"basic_pension", "resident_basic_pension"})
_FUND_SCHEME = "housing_provident_fund"


def _is_wage(fact: IncomeFact) -> bool:
    return fact.category is IncomeCategory.WAGES and fact.kind == "salary"


def _is_pension(fact: IncomeFact) -> bool:
    return fact.category is IncomeCategory.TRANSFER and fact.kind in _PENSION_KINDS


def _is_business(fact: IncomeFact) -> bool:
    return fact.category is IncomeCategory.BUSINESS


_STREAMS: dict[IncomeStream, tuple[SourceKind, Callable[[IncomeFact], bool]]] = {
    IncomeStream.WAGES: (SourceKind.TAX, _is_wage),
    IncomeStream.PENSION: (SourceKind.SOCIAL_INSURANCE, _is_pension),
    IncomeStream.BUSINESS: (SourceKind.TAX, _is_business),
}


class IncomeEvents(EvolutionBase):
    """Applies :class:`~hedui_sdk.sandbox.events.IncomeChange` events."""

    def _income_change(self, event: IncomeChange) -> None:
        household = self._household(event.household, event.effective)
        person = self._member(household, event.member, event.effective)
        source, picked = _STREAMS[event.stream]
        first = event.effective.replace(day=1)
        facts: list[Fact] = []
        covered: set[date] = set()
        wages: dict[date, int] = {}  # month -> the wage from the change on (0: none)
        template: IncomeFact | None = None
        touched = False
        for fact in person.facts_for(source):
            if not (isinstance(fact, IncomeFact) and picked(fact)):
                facts.append(fact)
                continue
            template = fact
            months = month_starts(fact.period_start, fact.period_end)
            covered.update(months)
            later = [m for m in months if m >= first]
            if not later:
                facts.append(fact)
                continue
            touched = True
            n, k = len(months), len(later)
            if event.delta_fen is not None:
                amount = fact.amount_fen + event.delta_fen * k
                monthly = half_up(fact.amount_fen, n) + event.delta_fen
            else:
                assert event.amount_fen is not None
                amount = half_up(fact.amount_fen * (n - k), n) + event.amount_fen * k
                monthly = event.amount_fen
            if amount < 0 and event.stream is not IncomeStream.BUSINESS:
                raise FieldError("delta_fen", "would make the income negative")
            wages.update(dict.fromkeys(later, max(monthly, 0)))
            if amount != 0:
                facts.append(replace(fact, amount_fen=amount))
        if event.delta_fen is not None and not touched:
            raise FieldError(
                "delta_fen",
                "the member has no such income from the effective month on: set amount_fen",
            )
        created: list[date] = []
        payer = self._payer(event, household, person, template)
        if event.amount_fen:
            for start, end in self._months:
                if start >= first and start not in covered:
                    facts.append(self._new_income(event, household, start, end, template, payer))
                    wages[start] = event.amount_fen
                    created.append(start)
        person_after = with_facts(person, source, facts)
        if event.stream is IncomeStream.WAGES:
            person_after = self._follow_wages(household.region, person_after, wages, created, payer)
            person_after = self._follow_employment(
                household.region, person_after, first, payer, working=any(wages.values())
            )
        self._done(swap(household, person, person_after), event.member, event.effective)

    def _payer(
        self, event: IncomeChange, household: Household, person: Person, template: IncomeFact | None
    ) -> str:
        if template is not None:
            return template.payer
        county = COUNTY_BY_CODE.get(household.region)
        county_name = county.name if county is not None else "本县"
        if event.stream is IncomeStream.WAGES:
            rng = random.Random(f"hedui-sandbox-event:{event.event_id}")  # noqa: S311
            return f"{place_name(county_name)}{rng.choice(COMPANY_NAMES)}有限公司"
        if event.stream is IncomeStream.PENSION:
            return pension_agency(county_name)
        for fact in person.facts_for(SourceKind.BUSINESS_REGISTRATION):
            if isinstance(fact, AssetFact):
                return dict(fact.details).get("business_name", "")
        return ""

    def _new_income(
        self,
        event: IncomeChange,
        household: Household,
        start: date,
        end: date,
        template: IncomeFact | None,
        payer: str,
    ) -> IncomeFact:
        assert event.amount_fen is not None
        if event.stream is IncomeStream.WAGES:
            category, kind, prefix = IncomeCategory.WAGES, "salary", "TAX"
        elif event.stream is IncomeStream.PENSION:
            category, prefix = IncomeCategory.TRANSFER, "SI"
            default = "basic_pension" if household.urban else "resident_basic_pension"
            kind = template.kind if template is not None else default
        else:
            category, kind, prefix = IncomeCategory.BUSINESS, "business_net_income", "TAX"
        return IncomeFact(
            self._record_id(prefix, household.region),
            category,
            kind,
            start,
            end,
            event.amount_fen,
            payer,
        )

    def _follow_wages(
        self,
        region: str,
        person: Person,
        wages: dict[date, int],
        created: list[date],
        employer: str,
    ) -> Person:
        """Contributions follow the wage: recomputed for changed months, dropped for
        months without a wage, started for months that gained one; unemployment benefit
        stops for months with a wage."""
        insured: list[Fact] = []
        have: set[tuple[str, date]] = set()
        for fact in person.facts_for(SourceKind.SOCIAL_INSURANCE):
            if (
                isinstance(fact, ContributionFact)
                and fact.scheme in _PER_MILLE
                and _single_month(fact)
                and fact.period_start in wages
            ):
                have.add((fact.scheme, fact.period_start))
                wage = wages[fact.period_start]
                if wage > 0:
                    base = social_insurance_base(wage)
                    paid = base * _PER_MILLE[fact.scheme] // 1000
                    insured.append(replace(fact, base_fen=base, paid_fen=paid))
                continue
            if (
                isinstance(fact, IncomeFact)
                and fact.kind == "unemployment_benefit"
                and wages.get(fact.period_start, 0) > 0
                and fact.period_end == month_end(fact.period_start)
            ):
                continue  # a month with a wage pays no unemployment benefit
            insured.append(fact)
        for month in created:
            base = social_insurance_base(wages[month])
            for scheme, per_mille in EMPLOYEE_SCHEMES:
                if (scheme, month) not in have:
                    insured.append(
                        ContributionFact(
                            self._record_id("SI", region),
                            scheme,
                            month,
                            month_end(month),
                            base,
                            base * per_mille // 1000,
                            employer,
                        )
                    )
        fund: list[Fact] = []
        for fact in person.facts_for(SourceKind.PROVIDENT_FUND):
            if (
                isinstance(fact, ContributionFact)
                and fact.scheme == _FUND_SCHEME
                and _single_month(fact)
                and fact.period_start in wages
            ):
                wage = wages[fact.period_start]
                if wage > 0:
                    fund.append(replace(fact, base_fen=wage, paid_fen=provident_fund_paid(wage)))
                continue
            fund.append(fact)
        person = with_facts(person, SourceKind.SOCIAL_INSURANCE, insured)
        return with_facts(person, SourceKind.PROVIDENT_FUND, fund)

    def _follow_employment(
        self, region: str, person: Person, first: date, employer: str, *, working: bool
    ) -> Person:
        """人社 follows the wage: a wage set to nothing ends the open registration with that
        employer the month before; a wage where there was none registers the job from its
        first month and ends an open unemployment registration."""
        before = first - timedelta(days=1)
        kept: list[Fact] = []
        registered = False
        for fact in person.facts_for(SourceKind.EMPLOYMENT):
            if isinstance(fact, EmploymentFact) and fact.period_end is None:
                if fact.status is EmploymentStatus.EMPLOYED and fact.employer == employer:
                    registered = True
                    if not working:
                        fact = replace(fact, period_end=max(before, fact.period_start))
                elif fact.status is EmploymentStatus.UNEMPLOYED_REGISTERED and working:
                    fact = replace(fact, period_end=max(before, fact.period_start))
            kept.append(fact)
        if working and not registered:
            kept.append(
                EmploymentFact(
                    self._record_id("EMP", region),
                    EmploymentStatus.EMPLOYED,
                    employer,
                    first,
                    None,
                )
            )
        return with_facts(person, SourceKind.EMPLOYMENT, kept)


def _single_month(fact: ContributionFact) -> bool:
    return fact.period_start.day == 1 and fact.period_end == month_end(fact.period_start)
