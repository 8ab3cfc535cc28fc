"""How each life event changes what the sandbox departments hold.

:class:`Evolution` applies events to a population one at a time, copy on write: a
household an event touches is rebuilt, and every other household, with every person and
record in it, stays the very same object, so the departments answer for it byte for byte
as before.

Money follows the calendar month, in integer fen. A change effective on any day of a
month applies from that whole month on. A record that spans several months (a business
quarter, a year's rent) keeps the months before that share of its amount, rounded half
up to the fen once, and gains the new amount for the months from it. A month whose
income becomes 0 has no record, as a department records payments, not their absence.
A death ends income and contributions with the month of death (pensions are paid for it).

New records get ids in a series of their own (``TAX-370322-E0000001``), counted in the
order events are applied, so the same events on the same seed give the same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from hedui_sdk import resident_id
from hedui_sdk.contract import IdType, SourceKind
from hedui_sdk.records import AssetCategory, CancellationReason, IncomeCategory
from hedui_sdk.sandbox.counties import COUNTY_BY_CODE
from hedui_sdk.sandbox.economics import (
    BANK_NAMES,
    COMPANY_NAMES,
    EMPLOYEE_SCHEMES,
    SHOP_NAMES,
    pension_agency,
    place_name,
    provident_fund_paid,
    social_insurance_base,
)
from hedui_sdk.sandbox.events import (
    Birth,
    BusinessKind,
    Death,
    DepositChange,
    FieldError,
    IncomeChange,
    IncomeStream,
    LifeEvent,
    MemberMovedOut,
    NewBusinessRegistration,
    NewProperty,
    NewVehicle,
)
from hedui_sdk.sandbox.facts import (
    AssetFact,
    ContributionFact,
    Fact,
    IncomeFact,
    RegisteredPerson,
    RegistrationFact,
)
from hedui_sdk.sandbox.names import given_name
from hedui_sdk.sandbox.numbering import month_end, recent_months
from hedui_sdk.sandbox.people import Household, Person, Relation
from hedui_sdk.sandbox.population import HISTORY_MONTHS, Population

_HR = SourceKind.HOUSEHOLD_REGISTRATION
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


@dataclass(slots=True)
class EvolutionState:
    """What carries over from one batch of events to the next: the new-record counters
    and, per member, the latest day an applied event took effect."""

    counters: dict[str, int] = field(default_factory=dict)
    latest: dict[tuple[str, int], date] = field(default_factory=dict)

    def copy(self) -> EvolutionState:
        """An independent copy (a refused batch leaves the original untouched)."""
        return EvolutionState(dict(self.counters), dict(self.latest))


class Evolution:
    """Events applied on top of ``population``; :meth:`result` is the new population.

    :meth:`apply` raises :class:`~hedui_sdk.sandbox.events.FieldError` for an event that
    does not fit the population (no such member, a death before another event…); the
    caller then throws the whole evolution away.
    """

    def __init__(self, population: Population, state: EvolutionState) -> None:
        self._base = population
        self._state = state.copy()
        self._changed: dict[str, Household] = {}
        self._issued: set[str] = set()
        self._months = recent_months(population.as_of, HISTORY_MONTHS)

    def result(self) -> tuple[Population, EvolutionState]:
        """The population with every applied event, and the state to carry on from."""
        return self._base.replacing(self._changed), self._state.copy()

    def apply(self, event: LifeEvent) -> None:
        """Apply one event (see the module docstring for the rules)."""
        if isinstance(event, IncomeChange):
            self._income_change(event)
        elif isinstance(event, NewVehicle):
            self._new_vehicle(event)
        elif isinstance(event, NewProperty):
            self._new_property(event)
        elif isinstance(event, NewBusinessRegistration):
            self._new_business(event)
        elif isinstance(event, DepositChange):
            self._deposit_change(event)
        elif isinstance(event, Death):
            self._death(event)
        elif isinstance(event, Birth):
            self._birth(event)
        else:
            self._moved_out(event)

    # -- finding what an event names ----------------------------------------------------

    def _household(self, household_id: str, effective: date) -> Household:
        household = self._changed.get(household_id) or self._base.household(household_id)
        if household is None:
            raise FieldError("household", "no such household in this sandbox")
        if effective > self._base.as_of:
            raise FieldError("effective", "is after the last day of the sandbox's data (as_of)")
        return household

    def _member(self, household: Household, index: int, effective: date) -> Person:
        count = len(household.members)
        if index >= count:
            raise FieldError("member", f"the household declares {count} members: 0..{count - 1}")
        person = household.members[index]
        if person.died_on is not None:
            raise FieldError("member", "has died: no later event applies to them")
        if effective < person.born:
            raise FieldError("effective", "is before the member was born")
        return person

    def _done(self, household: Household, member: int | None, effective: date) -> None:
        self._changed[household.household_id] = household
        if member is not None:
            key = (household.household_id, member)
            previous = self._state.latest.get(key)
            self._state.latest[key] = effective if previous is None else max(previous, effective)

    def _record_id(self, prefix: str, region: str) -> str:
        n = self._next(f"{prefix}-{region}")
        return f"{prefix}-{region}-E{n:07d}"

    def _household_number(self, region: str) -> str:
        return f"HK{region}E{self._next(f'HK-{region}'):05d}"

    def _next(self, series: str) -> int:
        n = self._state.counters.get(series, 0) + 1
        self._state.counters[series] = n
        return n

    # -- income ------------------------------------------------------------------------

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
            months = _month_starts(fact.period_start, fact.period_end)
            covered.update(months)
            later = [m for m in months if m >= first]
            if not later:
                facts.append(fact)
                continue
            touched = True
            n, k = len(months), len(later)
            if event.delta_fen is not None:
                amount = fact.amount_fen + event.delta_fen * k
                monthly = _half_up(fact.amount_fen, n) + event.delta_fen
            else:
                assert event.amount_fen is not None
                amount = _half_up(fact.amount_fen * (n - k), n) + event.amount_fen * k
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
        person_after = _with_facts(person, source, facts)
        if event.stream is IncomeStream.WAGES:
            person_after = self._follow_wages(household.region, person_after, wages, created, payer)
        self._done(_swap(household, person, person_after), event.member, event.effective)

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
        person = _with_facts(person, SourceKind.SOCIAL_INSURANCE, insured)
        return _with_facts(person, SourceKind.PROVIDENT_FUND, fund)

    # -- assets ------------------------------------------------------------------------

    def _add_asset(
        self, household: Household, member: int, effective: date, source: SourceKind, fact: Fact
    ) -> None:
        person = household.members[member]
        after = _with_facts(person, source, (*person.facts_for(source), fact))
        self._done(_swap(household, person, after), member, effective)

    def _new_vehicle(self, event: NewVehicle) -> None:
        household = self._household(event.household, event.effective)
        self._member(household, event.member, event.effective)
        fact = AssetFact(
            self._record_id("VEH", household.region),
            AssetCategory.VEHICLE,
            event.kind.value,
            event.value_fen,
            details=(("vehicle_kind", event.kind.value), *_registered(event.effective)),
        )
        self._add_asset(household, event.member, event.effective, SourceKind.VEHICLE, fact)

    def _new_property(self, event: NewProperty) -> None:
        household = self._household(event.household, event.effective)
        self._member(household, event.member, event.effective)
        fact = AssetFact(
            self._record_id("RE", household.region),
            AssetCategory.REAL_ESTATE,
            event.kind.value,
            event.value_fen,
            area_m2=event.area_m2,
            details=(("usage", event.kind.usage), *_registered(event.effective)),
        )
        self._add_asset(household, event.member, event.effective, SourceKind.REAL_ESTATE, fact)

    def _new_business(self, event: NewBusinessRegistration) -> None:
        household = self._household(event.household, event.effective)
        self._member(household, event.member, event.effective)
        county = COUNTY_BY_CODE.get(household.region)
        place = place_name(county.name) if county is not None else ""
        rng = random.Random(f"hedui-sandbox-event:{event.event_id}")  # noqa: S311 -- synthetic
        if event.kind is BusinessKind.LIMITED_COMPANY:
            name = f"{place}{rng.choice(COMPANY_NAMES)}有限公司"
        else:
            name = f"{place}{rng.choice(SHOP_NAMES)}"
        year, day = _registered(event.effective)
        fact = AssetFact(
            self._record_id("BIZ", household.region),
            AssetCategory.BUSINESS,
            event.kind.value,
            event.capital_fen,
            details=(("business_name", name), year, ("status", "active"), day),
        )
        self._add_asset(
            household, event.member, event.effective, SourceKind.BUSINESS_REGISTRATION, fact
        )

    def _deposit_change(self, event: DepositChange) -> None:
        household = self._household(event.household, event.effective)
        person = self._member(household, event.member, event.effective)
        held = person.facts_for(SourceKind.BANK)
        accounts = [
            i
            for i, f in enumerate(held)
            if isinstance(f, AssetFact) and f.category is AssetCategory.DEPOSIT
        ]
        facts = list(held)
        if event.account < len(accounts):
            at = accounts[event.account]
            old = facts[at]
            assert isinstance(old, AssetFact)
            facts[at] = replace(old, value_fen=event.balance_fen)
        elif event.account == len(accounts):
            rng = random.Random(f"hedui-sandbox-event:{event.event_id}")  # noqa: S311
            facts.append(
                AssetFact(
                    self._record_id("BANK", household.region),
                    AssetCategory.DEPOSIT,
                    "demand_deposit",
                    event.balance_fen,
                    details=(("bank", rng.choice(BANK_NAMES)),),
                )
            )
        else:
            raise FieldError(
                "account",
                f"the member has {len(accounts)} deposit accounts: 0..{len(accounts)} (a new one)",
            )
        after = _with_facts(person, SourceKind.BANK, facts)
        self._done(_swap(household, person, after), event.member, event.effective)

    # -- 户籍 --------------------------------------------------------------------------

    def _death(self, event: Death) -> None:
        household = self._household(event.household, event.effective)
        person = self._member(household, event.member, event.effective)
        latest = self._state.latest.get((household.household_id, event.member))
        if latest is not None and latest > event.effective:
            raise FieldError("effective", "is before another event applied to this member")
        cutoff = month_end(event.effective) + timedelta(days=1)
        facts: dict[SourceKind, tuple[Fact, ...]] = {}
        for source, held in person.facts.items():
            if source is not _HR:
                facts[source] = tuple(f for f in (_until(f, cutoff) for f in held) if f is not None)
        registration = _registration_of(person)
        facts[_HR] = (
            RegistrationFact(
                self._record_id("HR", household.region),
                registration.household_number,
                registration.region_code,
                (_entry(registration, person),),
                cancelled_on=event.effective,
                cancel_reason=CancellationReason.DEATH,
            ),
        )
        dead = replace(person, facts={s: f for s, f in facts.items() if f}, died_on=event.effective)
        household = _reregister(_swap(household, person, dead), registration, leaving=person)
        self._done(household, event.member, event.effective)

    def _birth(self, event: Birth) -> None:
        household = self._household(event.household, event.effective)
        registration = household.registration
        if not registration.members:
            raise FieldError("household", "nobody is left on the household's 户籍")
        number = self._newborn_number(household.region, event.effective, male=event.male)
        rng = random.Random(f"hedui-sandbox-birth:{event.event_id}")  # noqa: S311 -- synthetic
        name = _family_name(household) + given_name(rng, male=event.male)
        entry = RegisteredPerson(IdType.RESIDENT_ID.value, number, name, event.relation.value)
        household = _reregister(household, registration, joining=entry)
        newborn = Person(
            id_type=IdType.RESIDENT_ID,
            id_number=number,
            name=name,
            male=event.male,
            born=event.effective,
            relation=Relation(event.relation.value),
            facts={_HR: (household.registration,)},
        )
        self._done(
            replace(household, outsiders=(*household.outsiders, newborn)), None, event.effective
        )

    def _newborn_number(self, region: str, born: date, *, male: bool) -> str:
        # The sequence's parity carries the sex (GB 11643): odd for a boy.
        for sequence in range(1 if male else 0, 1000, 2):
            number = resident_id.make(region, born, sequence)
            if number not in self._issued and self._base.lookup(IdType.RESIDENT_ID, number) is None:
                self._issued.add(number)
                return number
        raise FieldError("effective", "no resident ID number is left for this birth date")

    def _moved_out(self, event: MemberMovedOut) -> None:
        household = self._household(event.household, event.effective)
        person = self._member(household, event.member, event.effective)
        registration = _registration_of(person)
        if registration.record_id != household.registration.record_id:
            raise FieldError("member", "is not on the household's 户籍")
        own = RegistrationFact(
            self._record_id("HR", household.region),
            self._household_number(household.region),
            household.region,
            (replace(_entry(registration, person), relation=Relation.SELF.value),),
        )
        moved = replace(person, facts={**person.facts, _HR: (own,)})
        household = _reregister(_swap(household, person, moved), registration, leaving=person)
        self._done(household, event.member, event.effective)


# -- helpers ---------------------------------------------------------------------------


def _month_starts(start: date, end: date) -> list[date]:
    """The first day of every calendar month that ``start``..``end`` touches."""
    months: list[date] = []
    month = start.replace(day=1)
    while month <= end:
        months.append(month)
        month = month_end(month) + timedelta(days=1)
    return months


def _single_month(fact: ContributionFact) -> bool:
    return fact.period_start.day == 1 and fact.period_end == month_end(fact.period_start)


def _half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero, in integers."""
    quotient, remainder = divmod(abs(numerator), denominator)
    rounded = quotient + (1 if 2 * remainder >= denominator else 0)
    return rounded if numerator >= 0 else -rounded


def _until(fact: Fact, cutoff: date) -> Fact | None:
    """What is left of a record when everything from ``cutoff`` (a month's first day) on
    is gone: income keeps its months before, contributions starting later go."""
    if isinstance(fact, IncomeFact):
        months = _month_starts(fact.period_start, fact.period_end)
        kept = sum(1 for m in months if m < cutoff)
        if kept == len(months):
            return fact
        amount = _half_up(fact.amount_fen * kept, len(months))
        return replace(fact, amount_fen=amount) if amount != 0 else None
    if isinstance(fact, ContributionFact):
        return fact if fact.period_start < cutoff else None
    return fact


def _registered(day: date) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("registered_year", str(day.year)), ("registered_on", day.isoformat())


def _with_facts(person: Person, source: SourceKind, facts: Iterable[Fact]) -> Person:
    held = dict(person.facts)
    kept = tuple(facts)
    if kept:
        held[source] = kept
    else:  # a department with nothing left on someone answers NOT_FOUND
        held.pop(source, None)
    return replace(person, facts=held)


def _swap(household: Household, old: Person, new: Person) -> Household:
    return replace(
        household,
        members=tuple(new if p is old else p for p in household.members),
        outsiders=tuple(new if p is old else p for p in household.outsiders),
    )


def _registration_of(person: Person) -> RegistrationFact:
    for fact in person.facts_for(_HR):
        if isinstance(fact, RegistrationFact) and fact.cancelled_on is None:
            return fact
    raise FieldError("member", "has no household registration in force")


def _entry(registration: RegistrationFact, person: Person) -> RegisteredPerson:
    for entry in registration.members:
        if entry.id_type == person.id_type.value and entry.id_number == person.id_number:
            return entry
    return RegisteredPerson(person.id_type.value, person.id_number, person.name, "self")


def _reregister(
    household: Household,
    registration: RegistrationFact,
    *,
    leaving: Person | None = None,
    joining: RegisteredPerson | None = None,
) -> Household:
    """The household with ``registration`` reissued without ``leaving`` or with
    ``joining``, for everyone who holds it."""
    entries = tuple(
        e
        for e in registration.members
        if leaving is None or (e.id_type, e.id_number) != (leaving.id_type.value, leaving.id_number)
    )
    reissued = replace(registration, members=(*entries, *(() if joining is None else (joining,))))

    def holder(person: Person) -> Person:
        held = person.facts_for(_HR)
        if len(held) == 1 and held[0] == registration:
            return replace(person, facts={**person.facts, _HR: (reissued,)})
        return person

    return replace(
        household,
        members=tuple(holder(p) for p in household.members),
        outsiders=tuple(holder(p) for p in household.outsiders),
        registration=(
            reissued if household.registration == registration else household.registration
        ),
    )


def _family_name(household: Household) -> str:
    """A newborn's family name: that of the household's children if it has any, else
    the father's (the generator's rule)."""
    for person in household.members:
        if person.relation is Relation.CHILD:
            return person.name[0]
    applicant = household.applicant
    if not applicant.male:
        for person in household.members:
            if person.relation is Relation.SPOUSE:
                return person.name[0]
    return applicant.name[0]
