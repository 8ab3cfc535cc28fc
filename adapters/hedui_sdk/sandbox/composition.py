"""Who lives in a synthetic household: relations, ages, sexes, names and health flags."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hedui_sdk.sandbox.names import given_name, surname
from hedui_sdk.sandbox.people import Profile, Relation

MAX_AGE = 98

_SIZE_WEIGHTS = {1: 18, 2: 24, 3: 24, 4: 18, 5: 10, 6: 6}
_PROFILE_WEIGHTS = {
    Profile.LOW_INCOME: 50,
    Profile.NEAR_POVERTY: 20,
    Profile.MODEST: 18,
    Profile.WELL_OFF: 12,
}
_DISABILITY_RATE = {
    Profile.LOW_INCOME: 0.10,
    Profile.NEAR_POVERTY: 0.06,
    Profile.MODEST: 0.03,
    Profile.WELL_OFF: 0.02,
}
_ILLNESS_RATE = {
    Profile.LOW_INCOME: 0.08,
    Profile.NEAR_POVERTY: 0.05,
    Profile.MODEST: 0.02,
    Profile.WELL_OFF: 0.02,
}


@dataclass(frozen=True, slots=True)
class MemberPlan:
    """A member before ID numbers and facts are attached."""

    relation: Relation
    age: int
    male: bool
    name: str
    disability_grade: int | None
    serious_illness: bool


def pick_profile(rng: random.Random) -> Profile:
    """A household's economic profile; low-income households dominate, as in real caseloads."""
    return rng.choices(list(_PROFILE_WEIGHTS), weights=list(_PROFILE_WEIGHTS.values()))[0]


def plan_household(rng: random.Random, profile: Profile) -> list[MemberPlan]:
    """Members of one household, applicant first, with ages plausible for each relation."""
    size = rng.choices(list(_SIZE_WEIGHTS), weights=list(_SIZE_WEIGHTS.values()))[0]
    if size == 1:
        applicant_age = rng.randint(58, 90) if rng.random() < 0.65 else rng.randint(25, 57)
    else:
        applicant_age = rng.randint(24, 78)
    applicant_male = rng.random() < 0.6
    slots: list[tuple[Relation, int, bool]] = [(Relation.SELF, applicant_age, applicant_male)]
    if size >= 2 and rng.random() < 0.85:
        spouse_age = max(20, min(MAX_AGE, applicant_age + rng.randint(-5, 5)))
        slots.append((Relation.SPOUSE, spouse_age, not applicant_male))
    while len(slots) < size:
        slots.append(_another_relative(rng, applicant_age, slots))
    has_spouse = len(slots) > 1 and slots[1][0] is Relation.SPOUSE
    family = _family_names(rng, applicant_male, has_spouse=has_spouse)
    return [_named(rng, profile, family, slot) for slot in slots]


def _another_relative(
    rng: random.Random, applicant_age: int, slots: list[tuple[Relation, int, bool]]
) -> tuple[Relation, int, bool]:
    counts = {r: sum(1 for s in slots if s[0] is r) for r in Relation}
    options: list[tuple[Relation, int]] = []
    if applicant_age >= 22 and counts[Relation.CHILD] < 3:
        gap = rng.randint(22, min(38, applicant_age))
        options += [(Relation.CHILD, applicant_age - gap)] * 3
    if applicant_age <= 62 and counts[Relation.PARENT] < 2:
        age = applicant_age + rng.randint(22, 34)
        if age <= MAX_AGE:
            options += [(Relation.PARENT, age)] * 2
    if applicant_age <= 40 and counts[Relation.GRANDPARENT] < 2:
        age = applicant_age + rng.randint(45, 60)
        if age <= MAX_AGE:
            options.append((Relation.GRANDPARENT, age))
    if applicant_age >= 48 and counts[Relation.GRANDCHILD] < 2:
        options.append((Relation.GRANDCHILD, max(0, applicant_age - rng.randint(44, 58))))
    options.append((Relation.SIBLING, max(1, min(MAX_AGE, applicant_age + rng.randint(-8, 8)))))
    relation, age = rng.choice(options)
    return relation, age, rng.random() < 0.5


def _named(
    rng: random.Random,
    profile: Profile,
    family: dict[Relation, str],
    slot: tuple[Relation, int, bool],
) -> MemberPlan:
    relation, age, male = slot
    name = family[relation] + given_name(rng, male=male)
    if relation in (Relation.PARENT, Relation.GRANDPARENT) and not male:
        name = surname(rng) + given_name(rng, male=False)
    illness_rate = _ILLNESS_RATE[profile] * (2.5 if age >= 60 else 1.0)
    disability: int | None = None
    if rng.random() < _DISABILITY_RATE[profile]:
        disability = rng.choices([1, 2, 3, 4], weights=[2, 3, 3, 2])[0]
    return MemberPlan(
        relation=relation,
        age=age,
        male=male,
        name=name,
        disability_grade=disability,
        serious_illness=rng.random() < illness_rate,
    )


def _family_names(
    rng: random.Random, applicant_male: bool, *, has_spouse: bool
) -> dict[Relation, str]:
    """Family names by relation: children take the father's, spouses keep their own."""
    own = surname(rng)
    spouse = surname(rng)
    children = spouse if has_spouse and not applicant_male else own
    return {
        Relation.SELF: own,
        Relation.SPOUSE: spouse,
        Relation.CHILD: children,
        Relation.GRANDCHILD: children,
        Relation.PARENT: own,
        Relation.GRANDPARENT: own,
        Relation.SIBLING: own,
    }
