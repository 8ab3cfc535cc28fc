"""Income and asset events change exactly what they should at each department, and nothing else.

Wages, pensions and business income (set, moved by a delta, ended, started), new assets at
their registry, deposit changes, and a new job ending unemployment benefit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from hedui_sdk import SourceKind
from hedui_sdk.records import AssetCategory, EmploymentStatus, IncomeCategory
from hedui_sdk.sandbox import (
    DepositChange,
    IncomeChange,
    IncomeStream,
    LifeEvent,
    NewBusinessRegistration,
    NewProperty,
    NewVehicle,
    Person,
    PropertyKind,
    VehicleKind,
)
from hedui_sdk.sandbox.events import BusinessKind
from hedui_sdk.sandbox.evidence_facts import EmploymentFact
from hedui_sdk.sandbox.facts import AssetFact, ContributionFact, IncomeFact
from hedui_sdk.sandbox.timeline import Timeline
from tests.life_events_helpers import (
    AS_OF,
    JUNE,
    after,
    apply,
    assert_others_untouched,
    changed,
    common,
    has_monthly_salary,
    incomes,
    is_pension,
    is_salary,
    member_where,
    population,
    refusal,
)


def is_business(f: IncomeFact) -> bool:
    return f.category is IncomeCategory.BUSINESS


# -- income --------------------------------------------------------------------------------


def test_wages_set_to_an_amount_from_a_month_change_tax_and_contributions_only() -> None:
    household, m = member_where(has_monthly_salary)
    person = household.members[m]
    event = IncomeChange(
        **common(household, JUNE), member=m, stream=IncomeStream.WAGES, amount_fen=612_345
    )
    _, pop = apply(event)
    new_household = after(pop, household)
    new = new_household.members[m]

    allowed = {(f"m{m}", "tax"), (f"m{m}", "social_insurance"), (f"m{m}", "provident_fund")}
    assert changed(household, new_household) <= allowed
    assert (f"m{m}", "tax") in changed(household, new_household)
    old_salary = incomes(person, SourceKind.TAX, is_salary)
    new_salary = incomes(new, SourceKind.TAX, is_salary)
    assert [f.record_id for f in new_salary] == [f.record_id for f in old_salary]
    for old_fact, new_fact in zip(old_salary, new_salary, strict=True):
        if old_fact.period_start < date(AS_OF.year, 6, 1):
            assert new_fact == old_fact
        else:
            assert new_fact.amount_fen == 612_345
            assert type(new_fact.amount_fen) is int
    contributions = [
        f
        for f in new.facts_for(SourceKind.SOCIAL_INSURANCE)
        if isinstance(f, ContributionFact) and f.scheme == "employee_pension"
    ]
    june_on = [f for f in contributions if f.period_start >= date(AS_OF.year, 6, 1)]
    assert june_on
    assert all(f.base_fen == 612_345 and f.paid_fen == 612_345 * 240 // 1000 for f in june_on)
    before_june = [
        f
        for f in person.facts_for(SourceKind.SOCIAL_INSURANCE)
        if isinstance(f, ContributionFact) and f.period_start < date(AS_OF.year, 6, 1)
    ]
    assert all(f in new.facts_for(SourceKind.SOCIAL_INSURANCE) for f in before_june)
    assert_others_untouched(pop, household)


def test_wages_moved_by_a_delta_keep_each_month_s_own_amount() -> None:
    household, m = member_where(has_monthly_salary)
    person = household.members[m]
    event = IncomeChange(
        **common(household, JUNE), member=m, stream=IncomeStream.WAGES, delta_fen=-5_000
    )
    _, pop = apply(event)
    new = after(pop, household).members[m]
    for old_fact, new_fact in zip(
        incomes(person, SourceKind.TAX, is_salary),
        incomes(new, SourceKind.TAX, is_salary),
        strict=True,
    ):
        moved = 0 if old_fact.period_start.month < 6 else -5_000
        assert new_fact.amount_fen == old_fact.amount_fen + moved


def test_wages_to_zero_end_the_job_from_that_month() -> None:
    household, m = member_where(has_monthly_salary)
    event = IncomeChange(
        **common(household, JUNE), member=m, stream=IncomeStream.WAGES, amount_fen=0
    )
    _, pop = apply(event)
    new = after(pop, household).members[m]
    months = [f.period_start.month for f in incomes(new, SourceKind.TAX, is_salary)]
    assert months == [1, 2, 3, 4, 5]
    employee = [
        f.period_start.month
        for f in new.facts_for(SourceKind.SOCIAL_INSURANCE)
        if isinstance(f, ContributionFact) and f.scheme.startswith("employee_")
    ]
    assert employee
    assert max(employee) == 5
    employer = incomes(new, SourceKind.TAX, is_salary)[-1].payer
    ended = [
        f.period_end
        for f in new.facts_for(SourceKind.EMPLOYMENT)
        if isinstance(f, EmploymentFact) and f.employer == employer
    ]
    assert ended == [date(AS_OF.year, 5, 31)]


def test_new_wages_for_someone_without_a_job_start_records_and_contributions() -> None:
    household, m = member_where(
        lambda p: not incomes(p, SourceKind.TAX, is_salary) and p.age_on(AS_OF) >= 18
    )
    event = IncomeChange(
        **common(household, date(AS_OF.year, 10, 3)),
        member=m,
        stream=IncomeStream.WAGES,
        amount_fen=300_000,
    )
    _, pop = apply(event)
    new_household = after(pop, household)
    new = new_household.members[m]
    salary = incomes(new, SourceKind.TAX, is_salary)
    assert [(f.period_start.month, f.amount_fen) for f in salary] == [
        (10, 300_000),
        (11, 300_000),
        (12, 300_000),
    ]
    assert all(f.record_id.startswith(f"TAX-{household.region}-E") for f in salary)
    assert len({f.payer for f in salary}) == 1
    insured = [
        f
        for f in new.facts_for(SourceKind.SOCIAL_INSURANCE)
        if isinstance(f, ContributionFact) and f.scheme.startswith("employee_")
    ]
    assert len(insured) == 6
    assert all(f.base_fen == 400_000 for f in insured)  # the floor: 4000 yuan
    assert changed(household, new_household) <= {
        (f"m{m}", "tax"),
        (f"m{m}", "social_insurance"),
        (f"m{m}", "employment"),
    }
    # 人社 registers the job from its first month.
    (job,) = [
        (f.status, f.employer, f.period_start, f.period_end)
        for f in new.facts_for(SourceKind.EMPLOYMENT)
        if isinstance(f, EmploymentFact) and f.status is EmploymentStatus.EMPLOYED
    ]
    assert job == (EmploymentStatus.EMPLOYED, salary[0].payer, date(AS_OF.year, 10, 1), None)


def test_pension_change_moves_social_insurance_only() -> None:
    household, m = member_where(lambda p: bool(incomes(p, SourceKind.SOCIAL_INSURANCE, is_pension)))
    person = household.members[m]
    event = IncomeChange(
        **common(household, JUNE), member=m, stream=IncomeStream.PENSION, delta_fen=10_000
    )
    _, pop = apply(event)
    new_household = after(pop, household)
    assert changed(household, new_household) == {(f"m{m}", "social_insurance")}
    old_total = sum(f.amount_fen for f in incomes(person, SourceKind.SOCIAL_INSURANCE, is_pension))
    new_total = sum(
        f.amount_fen
        for f in incomes(new_household.members[m], SourceKind.SOCIAL_INSURANCE, is_pension)
    )
    assert new_total == old_total + 7 * 10_000  # June to December


def test_business_income_in_a_quarter_changes_for_its_later_months_only() -> None:
    household, m = member_where(lambda p: bool(incomes(p, SourceKind.TAX, is_business)))
    person = household.members[m]
    quarters = incomes(person, SourceKind.TAX, is_business)
    second = quarters[1]  # months 4..6 of a window ending in December
    effective = second.period_start + timedelta(days=40)  # in the quarter's second month
    event = IncomeChange(
        **common(household, effective), member=m, stream=IncomeStream.BUSINESS, amount_fen=100_001
    )
    _, pop = apply(event)
    new = incomes(after(pop, household).members[m], SourceKind.TAX, is_business)
    assert new[0] == quarters[0]
    # One month keeps its third of the old amount (rounded half up, once), two get the new.
    kept = (second.amount_fen * 1 * 2 + 3) // (3 * 2)
    assert new[1].amount_fen == kept + 2 * 100_001
    assert new[1].record_id == second.record_id
    assert [q.amount_fen for q in new[2:]] == [300_003] * len(quarters[2:])


def test_a_delta_on_income_the_member_does_not_have_is_refused() -> None:
    household, m = member_where(lambda p: not incomes(p, SourceKind.SOCIAL_INSURANCE, is_pension))
    timeline = Timeline(population())
    refused = refusal(
        timeline,
        IncomeChange(
            **common(household, JUNE), member=m, stream=IncomeStream.PENSION, delta_fen=100
        ),
    )
    assert [v.field for v in refused.violations] == ["events[0].delta_fen"]
    assert timeline.population is population()


def test_wages_cannot_go_negative() -> None:
    household, m = member_where(has_monthly_salary)
    refused = refusal(
        Timeline(population()),
        IncomeChange(
            **common(household, JUNE), member=m, stream=IncomeStream.WAGES, delta_fen=-(10**9)
        ),
    )
    assert refused.violations[0].field == "events[0].delta_fen"


def test_a_new_job_ends_unemployment_benefit_from_its_first_month() -> None:
    def unemployed(p: Person) -> bool:
        return bool(
            incomes(p, SourceKind.SOCIAL_INSURANCE, lambda f: f.kind == "unemployment_benefit")
        )

    household, m = member_where(unemployed)
    person = household.members[m]
    start = date(AS_OF.year, 11, 1)
    _, pop = apply(
        IncomeChange(
            **common(household, start), member=m, stream=IncomeStream.WAGES, amount_fen=300_000
        )
    )
    new = after(pop, household).members[m]
    benefit = incomes(new, SourceKind.SOCIAL_INSURANCE, lambda f: f.kind == "unemployment_benefit")
    old_benefit = incomes(
        person, SourceKind.SOCIAL_INSURANCE, lambda f: f.kind == "unemployment_benefit"
    )
    assert benefit == [f for f in old_benefit if f.period_start < start]
    assert len(benefit) < len(old_benefit)
    # 人社: the unemployment registration ends the month before; the job is registered.
    registrations = [
        f for f in new.facts_for(SourceKind.EMPLOYMENT) if isinstance(f, EmploymentFact)
    ]
    out_of_work = [f for f in registrations if f.status is EmploymentStatus.UNEMPLOYED_REGISTERED]
    new_job = [f for f in registrations if f.period_start == start]
    ends = sorted((f.status, f.period_end) for f in (*out_of_work, *new_job))
    assert ends == [
        (EmploymentStatus.EMPLOYED, None),
        (EmploymentStatus.UNEMPLOYED_REGISTERED, date(AS_OF.year, 10, 31)),
    ]


# -- assets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "make"),
    [
        (
            SourceKind.VEHICLE,
            lambda c, m: NewVehicle(**c, member=m, kind=VehicleKind.CAR, value_fen=8_000_000),
        ),
        (
            SourceKind.REAL_ESTATE,
            lambda c, m: NewProperty(
                **c,
                member=m,
                kind=PropertyKind.RESIDENTIAL,
                area_m2=Decimal("86.5"),
                value_fen=52_000_000,
            ),
        ),
        (
            SourceKind.BUSINESS_REGISTRATION,
            lambda c, m: NewBusinessRegistration(
                **c, member=m, kind=BusinessKind.INDIVIDUAL_BUSINESS, capital_fen=5_000_000
            ),
        ),
    ],
)
def test_a_new_asset_is_one_more_record_at_its_registry_only(
    source: SourceKind, make: Callable[[dict[str, Any], int], LifeEvent]
) -> None:
    household = population().sample_household("370305", 0)
    m = len(household.members) - 1
    _, pop = apply(make(common(household, JUNE), m))
    new_household = after(pop, household)
    assert changed(household, new_household) == {(f"m{m}", source.value)}
    old = household.members[m].facts_for(source)
    new = new_household.members[m].facts_for(source)
    assert new[: len(old)] == old
    (added,) = new[len(old) :]
    assert isinstance(added, AssetFact)
    assert added.record_id.startswith(f"{source_prefix(source)}-370305-E")
    assert dict(added.details)["registered_on"] == JUNE.isoformat()
    if source is SourceKind.REAL_ESTATE:
        assert added.area_m2 == Decimal("86.50")
        assert str(added.area_m2) == "86.50"
    if source is SourceKind.BUSINESS_REGISTRATION:
        assert dict(added.details)["status"] == "active"
        assert dict(added.details)["business_name"]
    assert_others_untouched(pop, household)


def source_prefix(source: SourceKind) -> str:
    return {
        SourceKind.VEHICLE: "VEH",
        SourceKind.REAL_ESTATE: "RE",
        SourceKind.BUSINESS_REGISTRATION: "BIZ",
    }[source]


def deposits(person: Person) -> list[AssetFact]:
    return [
        f
        for f in person.facts_for(SourceKind.BANK)
        if isinstance(f, AssetFact) and f.category is AssetCategory.DEPOSIT
    ]


def test_deposit_change_sets_one_account_s_balance_or_opens_the_next() -> None:
    household, m = member_where(lambda p: len(deposits(p)) >= 2)
    person = household.members[m]
    timeline, pop = apply(
        DepositChange(**common(household, JUNE), member=m, account=1, balance_fen=123_456_78)
    )
    new_household = after(pop, household)
    assert changed(household, new_household) == {(f"m{m}", "bank")}
    old, new = deposits(person), deposits(new_household.members[m])
    assert new[0] == old[0]
    assert new[1] == replace(old[1], value_fen=123_456_78)
    opened = DepositChange(
        **common(household, JUNE, "ev-2"), member=m, account=len(old), balance_fen=50_000
    )
    timeline.apply([opened])
    newest = deposits(after(timeline.population, household).members[m])
    assert len(newest) == len(old) + 1
    assert newest[-1].value_fen == 50_000
    assert newest[-1].kind == "demand_deposit"
    too_far = DepositChange(
        **common(household, JUNE, "ev-3"), member=m, account=len(old) + 2, balance_fen=1
    )
    assert refusal(timeline, too_far).violations[0].field == "events[0].account"
