"""The synthetic population: deterministic, valid, varied enough to exercise every rule."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hedui_sdk import AssetCategory, IdType, IncomeCategory, SourceKind, mask_id_number, resident_id
from hedui_sdk.sandbox import (
    REFERENCE_DATE,
    SEED_COUNTIES,
    Mismatch,
    Population,
    Profile,
    Relation,
    generate_population,
)
from hedui_sdk.sandbox.facts import AssetFact, ContributionFact, IncomeFact, RegistrationFact

SEED = 11
PER_COUNTY = 100
SMALL = 25


def assert_absent(secret: str, text: str) -> None:
    """Fail if ``secret`` (an ID number or name) shows in ``text``, without printing it."""
    if secret and secret in text:
        raise AssertionError(f"found {mask_id_number(secret)} ({len(secret)} chars) in output")


@functools.cache
def population() -> Population:
    return generate_population(SEED, households_per_county=PER_COUNTY)


def test_same_seed_gives_byte_identical_data() -> None:
    first = generate_population(SEED, households_per_county=SMALL)
    again = generate_population(SEED, households_per_county=SMALL)
    assert first is not again
    assert again.to_json() == first.to_json()


def test_different_seed_gives_different_data() -> None:
    first = generate_population(SEED, households_per_county=SMALL)
    other = generate_population(SEED + 1, households_per_county=SMALL)
    assert other.to_json() != first.to_json()
    assert other.fingerprint() != first.fingerprint()


def test_as_of_moves_the_records_with_it() -> None:
    moved = generate_population(SEED, households_per_county=5, as_of=date(2024, 6, 30))
    months = {
        f.period_end
        for p in moved.persons()
        for f in p.facts_for(SourceKind.TAX)
        if isinstance(f, IncomeFact) and f.kind == "salary"
    }
    assert max(months) == date(2024, 6, 30)
    assert min(months) >= date(2023, 7, 1)


def test_every_county_has_the_requested_households() -> None:
    pop = population()
    assert pop.regions == tuple(c.code for c in SEED_COUNTIES)
    for county in SEED_COUNTIES:
        households = pop.households(county.code)
        assert len(households) == PER_COUNTY
        assert all(h.region == county.code for h in households)
    assert pop.households("110101") == ()


def test_resident_ids_are_valid_unique_and_match_the_person() -> None:
    seen: set[str] = set()
    for household in population().all_households:
        for person in (*household.members, *household.outsiders):
            # Checks are reduced to booleans first so a failure prints no ID number.
            number = person.id_number
            valid = resident_id.problems(number) == []
            duplicate = number in seen
            seen.add(number)
            region_ok = number[:6] == household.region
            born_ok = number[6:14] == person.born.strftime("%Y%m%d")
            sex_ok = (int(number[16]) % 2 == 1) == person.male
            assert valid, repr(person)
            assert not duplicate, repr(person)
            assert region_ok, repr(person)
            assert born_ok, repr(person)
            assert sex_ok, repr(person)
            assert person.born <= REFERENCE_DATE
    assert len(seen) > PER_COUNTY * len(SEED_COUNTIES)


def test_households_have_one_to_six_members_headed_by_the_applicant() -> None:
    sizes = Counter(len(h.members) for h in population().all_households)
    assert set(sizes) == {1, 2, 3, 4, 5, 6}
    for household in population().all_households:
        assert household.applicant.relation is Relation.SELF
        assert all(m.relation is not Relation.SELF for m in household.members[1:])


def test_ages_are_plausible_for_each_relation() -> None:
    day = REFERENCE_DATE
    relations: Counter[Relation] = Counter()
    for household in population().all_households:
        applicant_age = household.applicant.age_on(day)
        assert applicant_age >= 18, repr(household)
        for member in household.members[1:]:
            relations[member.relation] += 1
            age = member.age_on(day)
            assert 0 <= age <= 100, repr(member)
            if member.relation in (Relation.CHILD,):
                assert applicant_age - age >= 18, repr(member)
            if member.relation is Relation.PARENT:
                assert age - applicant_age >= 18, repr(member)
            if member.relation is Relation.GRANDPARENT:
                assert age - applicant_age >= 40, repr(member)
            if member.relation is Relation.GRANDCHILD:
                assert applicant_age - age >= 40, repr(member)
            if member.relation is Relation.SPOUSE:
                assert age >= 18, repr(member)
    assert set(relations) == set(Relation) - {Relation.SELF}


def test_registration_mismatches_are_present_and_real() -> None:
    kinds: Counter[Mismatch | None] = Counter()
    for household in population().all_households:
        kinds[household.mismatch] += 1
        declared = {m.id_number for m in household.members}
        registered = {m.id_number for m in household.registration.members}
        if household.mismatch is None:
            same = registered == declared
            assert same, repr(household)
        elif household.mismatch is Mismatch.MEMBER_MISSING:
            fewer = registered < declared
            assert fewer, repr(household)
            missing = [m for m in household.members if m.id_number not in registered]
            (own,) = missing[0].facts_for(SourceKind.HOUSEHOLD_REGISTRATION)
            assert isinstance(own, RegistrationFact)
            assert own.household_number != household.registration.household_number
        else:
            more = registered > declared
            extra_are_outsiders = {
                p.id_number for p in household.outsiders
            } == registered - declared
            assert more, repr(household)
            assert extra_are_outsiders, repr(household)
    total = len(population().all_households)
    assert kinds[Mismatch.MEMBER_MISSING] > 0
    assert kinds[Mismatch.EXTRA_PERSON] > 0
    assert 0.04 * total <= kinds[Mismatch.MEMBER_MISSING] + kinds[Mismatch.EXTRA_PERSON]
    assert kinds[Mismatch.MEMBER_MISSING] + kinds[Mismatch.EXTRA_PERSON] <= 0.18 * total


def test_every_record_kind_occurs_somewhere() -> None:
    income: set[IncomeCategory] = set()
    assets: set[AssetCategory] = set()
    kinds: set[str] = set()
    schemes: set[str] = set()
    registrations = 0
    for person in population().persons():
        for source in SourceKind:
            for fact in person.facts_for(source):
                if isinstance(fact, IncomeFact):
                    income.add(fact.category)
                    kinds.add(fact.kind)
                elif isinstance(fact, AssetFact):
                    assets.add(fact.category)
                    kinds.add(fact.kind)
                elif isinstance(fact, ContributionFact):
                    schemes.add(fact.scheme)
                else:
                    registrations += 1
    assert income == set(IncomeCategory)
    assert assets == set(AssetCategory)
    assert {"car", "motorcycle", "tricycle", "truck", "fishing_vessel"} <= kinds
    assert {"salary", "basic_pension", "resident_basic_pension", "unemployment_benefit"} <= kinds
    assert {"employee_pension", "housing_provident_fund", "resident_pension"} <= schemes
    assert registrations > 0


def test_each_source_holds_data_on_some_people_and_nothing_on_most() -> None:
    pop = population()
    persons = list(pop.persons())
    for source in SourceKind:
        holding = sum(1 for _ in pop.persons_with(source))
        assert holding > 0, source
        if source is not SourceKind.HOUSEHOLD_REGISTRATION:
            assert holding < len(persons), source
    sources_per_person = [sum(1 for s in SourceKind if p.facts_for(s)) for p in persons]
    assert sum(sources_per_person) / len(persons) < len(SourceKind) / 2


def test_money_is_integer_fen_and_areas_are_decimal() -> None:
    for person in population().persons():
        for source in SourceKind:
            for fact in person.facts_for(source):
                if isinstance(fact, IncomeFact):
                    assert type(fact.amount_fen) is int
                elif isinstance(fact, AssetFact):
                    assert type(fact.value_fen) is int
                    assert fact.value_fen >= 0
                    if fact.category is AssetCategory.REAL_ESTATE:
                        assert fact.area_m2 is not None
                        assert fact.area_m2 > 0
                elif isinstance(fact, ContributionFact):
                    assert type(fact.base_fen) is int
                    assert type(fact.paid_fen) is int


def test_profiles_and_health_flags_are_mixed() -> None:
    pop = population()
    profiles = Counter(h.profile for h in pop.all_households)
    assert set(profiles) == set(Profile)
    assert profiles[Profile.LOW_INCOME] == max(profiles.values())
    persons = list(pop.persons())
    grades = {p.disability_grade for p in persons}
    assert grades == {None, 1, 2, 3, 4}
    assert any(p.serious_illness for p in persons)
    assert not all(p.serious_illness for p in persons)
    assert {h.urban for h in pop.all_households} == {True, False}


def test_lookup_by_document() -> None:
    pop = population()
    person = pop.all_households[3].members[0]
    number = person.id_number
    by_enum = pop.lookup(IdType.RESIDENT_ID, number)
    by_text = pop.lookup("resident_id", number)
    as_passport = pop.lookup(IdType.PASSPORT, number)
    unknown_type = pop.lookup("no_such_type", number)
    assert by_enum is person
    assert by_text is person
    assert as_passport is None
    assert unknown_type is None
    known = {p.id_number for p in pop.persons()}
    stranger = next(
        n
        for n in (resident_id.make("370322", date(1950, 1, 1), s) for s in range(999))
        if n not in known
    )
    nobody = pop.lookup(IdType.RESIDENT_ID, stranger)
    assert nobody is None
    assert pop.household_of(person) is pop.all_households[3]


def test_sample_household_is_demo_friendly() -> None:
    pop = population()
    for county in SEED_COUNTIES:
        first = pop.sample_household(county.code)
        second = pop.sample_household(county.code, 1)
        assert first is not second
        for household in (first, second):
            assert household.profile is Profile.LOW_INCOME
            assert 2 <= len(household.members) <= 5
            assert household.mismatch is None
    with pytest.raises(IndexError):
        pop.sample_household("370322", 10_000)


def test_printed_people_are_masked() -> None:
    household = population().all_households[0]
    for person in household.members:
        text = f"{person!r} {person} {person.subject!r} {household!r}"
        assert_absent(person.id_number, text)
        assert_absent(person.name, text)
    for registered in household.registration.members:
        assert_absent(registered.id_number, repr(registered))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32), per_county=st.integers(1, 4))
def test_any_seed_gives_valid_unique_ids(seed: int, per_county: int) -> None:
    pop = generate_population(seed, households_per_county=per_county)
    numbers = [p.id_number for p in pop.persons()]
    duplicates = len(numbers) - len(set(numbers))
    invalid = sum(1 for n in numbers if resident_id.problems(n))
    unindexed = sum(1 for n in numbers if pop.lookup(IdType.RESIDENT_ID, n) is None)
    assert duplicates == 0
    assert invalid == 0
    assert unindexed == 0


def test_households_per_county_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_population(1, households_per_county=0)


def test_household_by_id() -> None:
    pop = population()
    household = pop.households("371522")[7]
    assert household.household_id == "371522-0008"
    assert pop.household("371522-0008") is household
    assert pop.household("371522-9999") is None


def test_replacing_households_leaves_the_original_and_every_other_household_alone() -> None:
    pop = population()
    seed_bytes = pop.to_json()
    old = pop.households("370305")[2]
    new = replace(old, urban=not old.urban)
    copy = pop.replacing({old.household_id: new})
    assert copy.household(old.household_id) is new
    assert copy.households("370305")[2] is new
    assert copy.all_households[PER_COUNTY + 2] is new
    assert copy.lookup(IdType.RESIDENT_ID, old.applicant.id_number) is new.applicant
    assert copy.household_of(new.applicant) is new
    assert pop.household(old.household_id) is old
    assert pop.household_of(old.applicant) is old
    assert pop.to_json() == seed_bytes
    others = [
        (a, b) for a, b in zip(pop.all_households, copy.all_households, strict=True) if a is not old
    ]
    assert all(a is b for a, b in others)
    with pytest.raises(KeyError):
        pop.replacing({"370305-9999": new})
    with pytest.raises(ValueError, match="keeps its id and region"):
        pop.replacing({old.household_id: replace(new, household_id="370305-0001")})


def test_replacing_refuses_a_resident_id_number_someone_else_holds() -> None:
    pop = population()
    first, second = pop.households("341824")[:2]
    intruder = replace(second.applicant, relation=Relation.SIBLING)
    with pytest.raises(ValueError, match="duplicate"):
        pop.replacing({first.household_id: replace(first, outsiders=(*first.outsiders, intruder))})
