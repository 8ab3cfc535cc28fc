"""Synthetic people and households: who they are and what each department holds on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from hedui_sdk.contract import IdType, SourceKind, Subject
from hedui_sdk.masking import mask_id_number, mask_name
from hedui_sdk.sandbox.facts import Fact, RegistrationFact


class Relation(StrEnum):
    """A member's relation to the applicant, who is also the head of the registration."""

    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"
    SIBLING = "sibling"

    @property
    def label_zh(self) -> str:
        """The term printed on a 户口簿."""
        return _LABELS_ZH[self]


_LABELS_ZH = {
    Relation.SELF: "户主",
    Relation.SPOUSE: "配偶",
    Relation.CHILD: "子女",
    Relation.PARENT: "父母",
    Relation.GRANDPARENT: "祖父母",
    Relation.GRANDCHILD: "孙子女",
    Relation.SIBLING: "兄弟姐妹",
}


class Profile(StrEnum):
    """The economic situation a household was generated with (ground truth for demos)."""

    LOW_INCOME = "low_income"
    """Per-capita income below a typical 低保 standard."""
    NEAR_POVERTY = "near_poverty"
    """低保边缘: a little above the standard."""
    MODEST = "modest"
    WELL_OFF = "well_off"


class Mismatch(StrEnum):
    """How a household's registration differs from the members it declares."""

    MEMBER_MISSING = "member_missing"
    """A declared member is not on the applicant's 户口簿 (registered elsewhere)."""
    EXTRA_PERSON = "extra_person"
    """The 户口簿 lists a person who is not a declared member."""


@dataclass(frozen=True, slots=True, eq=False)
class Person:
    """One synthetic resident and every department's facts about them.

    ``facts`` maps a source to what that department holds; a source that is absent holds
    nothing (it answers NOT_FOUND). ``repr()`` is masked. Persons compare and hash by
    identity: the population holds exactly one object per person.
    """

    id_type: IdType
    id_number: str
    name: str
    male: bool
    born: date
    relation: Relation
    disability_grade: int | None = None
    serious_illness: bool = False
    facts: Mapping[SourceKind, tuple[Fact, ...]] = field(default_factory=dict)
    died_on: date | None = None
    """Set by a ``death`` life event: the departments' records end with it."""

    def __repr__(self) -> str:
        return (
            f"Person(id_number={mask_id_number(self.id_number)}, name={mask_name(self.name)},"
            f" relation={self.relation.value})"
        )

    __str__ = __repr__

    @property
    def subject(self) -> Subject:
        """The person as an adapter query names them."""
        return Subject(id_type=self.id_type, id_number=self.id_number, name=self.name)

    def facts_for(self, source: SourceKind) -> tuple[Fact, ...]:
        """What ``source`` holds on this person (empty: the source answers NOT_FOUND)."""
        return self.facts.get(source, ())

    def age_on(self, day: date) -> int:
        """Age in whole years on ``day``."""
        had_birthday = (day.month, day.day) >= (self.born.month, self.born.day)
        return day.year - self.born.year - (0 if had_birthday else 1)


@dataclass(frozen=True, slots=True)
class Household:
    """A household as an applicant declares it, and its registration as 户籍 holds it.

    ``members`` starts with the applicant. ``registration`` is the applicant's 户口簿;
    it differs from ``members`` when ``mismatch`` is set (``outsiders`` then holds the
    extra person listed on it). ``profile`` and ``mismatch`` describe the household as
    generated; life events (:mod:`hedui_sdk.sandbox.events`) change the registration and
    the records, and a child born since is an outsider too: on the 户口簿, not declared.
    """

    household_id: str
    region: str
    urban: bool
    profile: Profile
    members: tuple[Person, ...]
    registration: RegistrationFact
    mismatch: Mismatch | None = None
    outsiders: tuple[Person, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Household(id={self.household_id}, members={len(self.members)},"
            f" profile={self.profile.value}, mismatch={self.mismatch})"
        )

    @property
    def applicant(self) -> Person:
        """The member who applies (and heads the registration)."""
        return self.members[0]
