"""A deterministic synthetic population for the sandbox departments.

``generate_population(seed)`` builds the same bytes for the same arguments on every
machine: each county draws from its own :class:`random.Random` seeded with a string
(string seeds do not depend on ``PYTHONHASHSEED``), and nothing iterates over a set.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from hedui_sdk.contract import IdType, SourceKind
from hedui_sdk.sandbox.composition import MemberPlan, pick_profile, plan_household
from hedui_sdk.sandbox.counties import SEED_COUNTIES, County
from hedui_sdk.sandbox.economics import EconomicContext, Ledger, household_assets, person_facts
from hedui_sdk.sandbox.evidence import EvidenceContext, household_evidence
from hedui_sdk.sandbox.facts import Fact, RegisteredPerson, RegistrationFact
from hedui_sdk.sandbox.numbering import RecordNumbers, ResidentIdIssuer, birth_date, recent_months
from hedui_sdk.sandbox.people import Household, Mismatch, Person, Profile, Relation
from hedui_sdk.sandbox.wire import encode_fact

REFERENCE_DATE = date(2025, 12, 31)
"""The default "today" of the synthetic data: the last day with records."""

HISTORY_MONTHS = 12
"""How many months of income and contribution records each person has."""

MISMATCH_RATE = 0.10
"""Share of households whose 户口簿 differs from the declared members."""


class Population:
    """Every synthetic household and person, indexed for the sandbox departments."""

    def __init__(self, *, seed: int, as_of: date, households: Sequence[Household]) -> None:
        self.seed = seed
        self.as_of = as_of
        self._households = tuple(households)
        self._by_region: dict[str, list[Household]] = {}
        self._by_household: dict[str, Household] = {}
        self._by_id: dict[tuple[IdType, str], Person] = {}
        self._home: dict[tuple[IdType, str], Household] = {}
        for household in self._households:
            if household.household_id in self._by_household:
                raise ValueError("duplicate household id in generated population")
            self._by_region.setdefault(household.region, []).append(household)
            self._by_household[household.household_id] = household
            self._index_people(household)

    def _index_people(self, household: Household) -> None:
        for person in (*household.members, *household.outsiders):
            key = (person.id_type, person.id_number)
            if key in self._by_id:
                raise ValueError("duplicate resident ID number in generated population")
            self._by_id[key] = person
            self._home[key] = household

    def replacing(self, changed: Mapping[str, Household]) -> Population:
        """A new population with the households in ``changed`` (by household id) replaced.

        Every other household, and every person in it, is the very same object: a
        department answers for them exactly as before. ``self`` is not modified.
        """
        for household_id, household in changed.items():
            old = self._by_household.get(household_id)
            if old is None:
                raise KeyError("no such household in the population")
            if household.household_id != household_id or household.region != old.region:
                raise ValueError("a replaced household keeps its id and region")
        new = object.__new__(Population)
        new.seed = self.seed
        new.as_of = self.as_of
        new._households = tuple(changed.get(h.household_id, h) for h in self._households)
        new._by_household = {**self._by_household, **changed}
        new._by_region = dict(self._by_region)
        for region in {h.region for h in changed.values()}:
            new._by_region[region] = [
                changed.get(h.household_id, h) for h in new._by_region[region]
            ]
        new._by_id = dict(self._by_id)
        new._home = dict(self._home)
        for household_id in changed:
            old = self._by_household[household_id]
            for person in (*old.members, *old.outsiders):
                key = (person.id_type, person.id_number)
                del new._by_id[key]
                del new._home[key]
        for household in changed.values():
            new._index_people(household)
        return new

    def __repr__(self) -> str:
        return (
            f"Population(seed={self.seed}, as_of={self.as_of}, households={len(self._households)})"
        )

    @property
    def regions(self) -> tuple[str, ...]:
        """The county codes that have households, in generation order."""
        return tuple(self._by_region)

    @property
    def all_households(self) -> tuple[Household, ...]:
        """Every household, county by county."""
        return self._households

    def households(self, region: str) -> tuple[Household, ...]:
        """The households of one county (empty for a region with none)."""
        return tuple(self._by_region.get(region, ()))

    def persons(self) -> Iterator[Person]:
        """Every person a department may be asked about: members and outsiders."""
        for household in self._households:
            yield from household.members
            yield from household.outsiders

    def persons_with(self, source: SourceKind) -> Iterator[Person]:
        """People ``source`` holds records on (it answers FOUND for a window covering them)."""
        return (p for p in self.persons() if p.facts_for(source))

    def persons_without(self, source: SourceKind) -> Iterator[Person]:
        """People ``source`` holds nothing on (it answers NOT_FOUND)."""
        return (p for p in self.persons() if not p.facts_for(source))

    def lookup(self, id_type: IdType | str, id_number: str) -> Person | None:
        """The person with this document, or ``None`` when nobody has it."""
        try:
            kind = IdType(id_type)
        except ValueError:
            return None
        return self._by_id.get((kind, id_number))

    def household(self, household_id: str) -> Household | None:
        """The household with this id (``"370322-0001"``), or ``None``."""
        return self._by_household.get(household_id)

    def household_of(self, person: Person) -> Household:
        """The household a person was generated in (as a member or an outsider)."""
        return self._home[(person.id_type, person.id_number)]

    def sample_household(self, region: str, index: int = 0) -> Household:
        """The ``index``-th demo-friendly household of ``region``.

        Demo-friendly: low-income, two to five members, registration consistent, so a demo
        shows an eligible-looking family. Raises ``IndexError`` past the last one.
        """
        candidates = [
            h
            for h in self.households(region)
            if h.profile is Profile.LOW_INCOME and 2 <= len(h.members) <= 5 and h.mismatch is None
        ]
        return candidates[index]

    def to_json(self) -> bytes:
        """The whole population as canonical JSON (sorted keys, UTF-8): a determinism witness."""
        body = {
            "seed": self.seed,
            "as_of": self.as_of.isoformat(),
            "households": [_household_json(h) for h in self._households],
        }
        return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()

    def fingerprint(self) -> str:
        """SHA-256 hex of :meth:`to_json`."""
        return hashlib.sha256(self.to_json()).hexdigest()


def _person_json(person: Person) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id_type": person.id_type.value,
        "id_number": person.id_number,
        "name": person.name,
        "male": person.male,
        "born": person.born.isoformat(),
        "relation": person.relation.value,
        "disability_grade": person.disability_grade,
        "serious_illness": person.serious_illness,
        "facts": {
            s.value: [encode_fact(f) for f in person.facts_for(s)]
            for s in SourceKind
            if person.facts_for(s)
        },
    }
    if person.died_on is not None:  # only after a death event: seed bytes stay the same
        body["died_on"] = person.died_on.isoformat()
    return body


def _household_json(household: Household) -> dict[str, Any]:
    return {
        "household_id": household.household_id,
        "region": household.region,
        "urban": household.urban,
        "profile": household.profile.value,
        "mismatch": None if household.mismatch is None else household.mismatch.value,
        "members": [_person_json(p) for p in household.members],
        "outsiders": [_person_json(p) for p in household.outsiders],
        "registration": encode_fact(household.registration),
    }


def generate_population(
    seed: int,
    *,
    households_per_county: int = 150,
    as_of: date = REFERENCE_DATE,
    counties: Sequence[County] = SEED_COUNTIES,
) -> Population:
    """Generate the population: ``households_per_county`` households in each county.

    Income and contribution records cover the :data:`HISTORY_MONTHS` complete months
    ending on or before ``as_of``; assets and registrations are as of ``as_of``.
    """
    if households_per_county < 1:
        raise ValueError("households_per_county must be at least 1")
    households: list[Household] = []
    for county in counties:
        builder = _CountyBuilder(seed, county, as_of)
        households.extend(builder.household(i) for i in range(households_per_county))
    return Population(seed=seed, as_of=as_of, households=households)


@dataclass(frozen=True, slots=True)
class _Drafted:
    plan: MemberPlan
    ledger: Ledger


class _CountyBuilder:
    def __init__(self, seed: int, county: County, as_of: date) -> None:
        self.rng = random.Random(f"hedui-sandbox:{seed}:{county.code}")  # noqa: S311 -- synthetic
        self.seed = seed
        self.county = county
        self.as_of = as_of
        self.ids = ResidentIdIssuer(county.code, self.rng)
        self.numbers = RecordNumbers(county.code)
        self.months = tuple(recent_months(as_of, HISTORY_MONTHS))
        self._spare_household_numbers = 900000

    def household(self, index: int) -> Household:
        rng = self.rng
        profile = pick_profile(rng)
        urban = rng.random() < self.county.urban_share
        ctx = EconomicContext(self.county, urban, profile, self.months, self.numbers)
        drafts = [_Drafted(p, person_facts(rng, ctx, p)) for p in plan_household(rng, profile)]
        owners = [d.ledger for d in drafts if d.plan.age >= 18][:2]
        has_business = any(SourceKind.BUSINESS_REGISTRATION in d.ledger.by_source for d in drafts)
        household_assets(rng, ctx, owners, has_business=has_business)

        mismatch: Mismatch | None = None
        if rng.random() < MISMATCH_RATE:
            two_or_more = len(drafts) >= 2
            mismatch = (
                Mismatch.MEMBER_MISSING
                if two_or_more and rng.random() < 0.5
                else Mismatch.EXTRA_PERSON
            )
        outsider_drafts: list[_Drafted] = []
        if mismatch is Mismatch.EXTRA_PERSON:
            outsider_drafts.append(self._outsider(rng, ctx, drafts[0].plan))
        missing = rng.randrange(1, len(drafts)) if mismatch is Mismatch.MEMBER_MISSING else None

        # Its own dice: the five evidence departments leave every other fact as it was.
        evidence_rng = random.Random(  # noqa: S311 -- synthetic
            f"hedui-sandbox-evidence:{self.seed}:{self.county.code}:{index}"
        )
        household_evidence(
            evidence_rng,
            EvidenceContext(self.county, urban, profile, self.months, self.numbers, self.as_of),
            [(d.plan, d.ledger) for d in (*drafts, *outsider_drafts)],
        )
        identities = [self._identity(d) for d in (*drafts, *outsider_drafts)]
        number = f"HK{self.county.code}{index + 1:06d}"
        on_hukou = [
            RegisteredPerson(
                IdType.RESIDENT_ID.value, id_number, d.plan.name, d.plan.relation.value
            )
            for i, (d, (id_number, _)) in enumerate(
                zip((*drafts, *outsider_drafts), identities, strict=True)
            )
            if i != missing
        ]
        registration = RegistrationFact(
            self.numbers.next("HR"), number, self.county.code, tuple(on_hukou)
        )
        people = [
            self._person(d, ident, registration if i != missing else None)
            for i, (d, ident) in enumerate(
                zip((*drafts, *outsider_drafts), identities, strict=True)
            )
        ]
        return Household(
            household_id=f"{self.county.code}-{index + 1:04d}",
            region=self.county.code,
            urban=urban,
            profile=profile,
            members=tuple(people[: len(drafts)]),
            registration=registration,
            mismatch=mismatch,
            outsiders=tuple(people[len(drafts) :]),
        )

    def _outsider(
        self, rng: random.Random, ctx: EconomicContext, applicant: MemberPlan
    ) -> _Drafted:
        """An adult relative still on the 户口簿 who lives and works elsewhere."""
        age = max(18, min(60, applicant.age + rng.randint(-8, 8)))
        male = rng.random() < 0.5
        plan = MemberPlan(
            relation=Relation.SIBLING,
            age=age,
            male=male,
            name=applicant.name[0] + ("强" if male else "芳"),
            disability_grade=None,
            serious_illness=False,
        )
        return _Drafted(plan, person_facts(rng, ctx, plan))

    def _identity(self, draft: _Drafted) -> tuple[str, date]:
        born = birth_date(self.rng, self.as_of, draft.plan.age)
        return self.ids.issue(born, male=draft.plan.male), born

    def _person(
        self, draft: _Drafted, identity: tuple[str, date], registration: RegistrationFact | None
    ) -> Person:
        id_number, born = identity
        facts: dict[SourceKind, tuple[Fact, ...]] = {}
        if registration is None:
            # Registered on a household of their own (moved out on paper, e.g. a collective 户).
            self._spare_household_numbers += 1
            registration = RegistrationFact(
                self.numbers.next("HR"),
                f"HK{self.county.code}{self._spare_household_numbers:06d}",
                self.county.code,
                (RegisteredPerson(IdType.RESIDENT_ID.value, id_number, draft.plan.name, "self"),),
            )
        facts[SourceKind.HOUSEHOLD_REGISTRATION] = (registration,)
        for source in SourceKind:
            if source in draft.ledger.by_source:
                facts[source] = tuple(draft.ledger.by_source[source])
        return Person(
            id_type=IdType.RESIDENT_ID,
            id_number=id_number,
            name=draft.plan.name,
            male=draft.plan.male,
            born=born,
            relation=draft.plan.relation,
            disability_grade=draft.plan.disability_grade,
            serious_illness=draft.plan.serious_illness,
            facts=facts,
        )
