"""A roster entry: one household a region supports, and what a re-check of it needs.

The household composition is a check's: the same members, 户口性质 and declaration a
case system sends in ``CreateVerification``, validated by the same rules
(:func:`verifier.domain.household.validate_request`), so that a re-check hedui starts
from the roster is a request any interactive check could have been. Field paths in
violations are the entry's own (``members[1].id_number``, ``authorization_number``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from hedui_sdk import AssetCategory, IdType, IncomeCategory, Subject
from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.household import (
    Circumstances,
    Declaration,
    DeclarationDraft,
    DeclaredAsset,
    HukouNature,
    Member,
    MemberDraft,
    Purpose,
    Relation,
    RequestDraft,
    SupporterStatus,
    validate_request,
)

__all__ = [
    "CLASS_LABELS",
    "CLASS_PROGRAM",
    "EARLIEST_CHECK",
    "HOUSEHOLD_REF",
    "RosterClass",
    "RosterEntry",
    "RosterEntryDraft",
    "entry_content",
    "entry_field",
    "household_from_json",
    "household_to_json",
    "validate_entry",
]

HOUSEHOLD_REF = ids.Format(
    "household reference",
    re.compile(r"[A-Za-z0-9._\-]{1,64}", re.ASCII),
    64,
    "1-64 characters of A-Z a-z 0-9 . _ -",
)
"""The case system's household reference: an identifier, never personal data."""

EARLIEST_CHECK = date(2000, 1, 1)
"""A last check before this is a typo, not a household's history."""


class RosterClass(StrEnum):
    """The class of support, which sets the re-check cycle."""

    DIBAO_A = "dibao_a"
    DIBAO_B = "dibao_b"
    DIBAO_C = "dibao_c"
    TEKUN = "tekun"
    DIBAO_BIANYUAN = "dibao_bianyuan"
    LINSHI = "linshi"
    YINBING_ZHIPIN = "yinbing_zhipin"


CLASS_PROGRAM: Mapping[RosterClass, Purpose] = {
    RosterClass.DIBAO_A: Purpose.DIBAO,
    RosterClass.DIBAO_B: Purpose.DIBAO,
    RosterClass.DIBAO_C: Purpose.DIBAO,
    RosterClass.TEKUN: Purpose.TEKUN,
    RosterClass.DIBAO_BIANYUAN: Purpose.DIBAO_BIANYUAN,
    RosterClass.LINSHI: Purpose.LINSHI,
    RosterClass.YINBING_ZHIPIN: Purpose.YINBING_ZHIPIN,
}
"""The program a class belongs to: an entry of the class must receive it."""

CLASS_LABELS: Mapping[RosterClass, str] = {
    RosterClass.DIBAO_A: "低保 A 类",
    RosterClass.DIBAO_B: "低保 B 类",
    RosterClass.DIBAO_C: "低保 C 类",
    RosterClass.TEKUN: "特困供养",
    RosterClass.DIBAO_BIANYUAN: "低保边缘家庭",
    RosterClass.LINSHI: "临时救助",
    RosterClass.YINBING_ZHIPIN: "因病致贫重病患者",
}


@dataclass(frozen=True, slots=True)
class RosterEntryDraft:
    """An entry as received (wire or file), before validation; ``None`` stands for an
    unset enum or an absent date."""

    household_ref: str
    region: str
    programs: tuple[Purpose | None, ...]
    roster_class: RosterClass | None
    authorization_number: str
    case_ref: str
    members: tuple[MemberDraft, ...]
    hukou: HukouNature | None
    declaration: DeclarationDraft | None = None
    last_check_date: date | None = None
    # What the translation already found wrong (an unknown enum number, a date that is
    # not one), reported with everything validation finds.
    wire_violations: tuple[FieldViolation, ...] = ()


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """A validated entry: what the case system owns about the household."""

    household_ref: str
    region: str
    programs: tuple[Purpose, ...]
    roster_class: RosterClass
    authorization_number: str
    case_ref: str
    members: tuple[Member, ...]
    hukou: HukouNature
    declaration: Declaration | None = None
    last_check_date: date | None = None

    @property
    def applicant(self) -> Subject:
        return next(m.subject for m in self.members if m.relation is Relation.APPLICANT)


# validate_request names the fields of a check; an entry names its own.
_RENAMES = (
    ("household.members", "members"),
    ("household.region_code", "region_code"),
    ("authorization_id", "authorization_number"),
    ("case_id", "case_ref"),
    ("purposes", "programs"),
)


def entry_field(field: str) -> str:
    """A check's field path as the entry names it (``household.members[1]`` → ``members[1]``)."""
    for old, new in _RENAMES:
        if field == old or field.startswith((old + ".", old + "[")):
            return new + field[len(old) :]
    return field


def validate_entry(draft: RosterEntryDraft, *, today: date) -> RosterEntry:
    """Check an entry before anything is stored; every bad field is named at once, and
    no message repeats an ID number or a name."""
    out: list[FieldViolation] = list(draft.wire_violations)
    HOUSEHOLD_REF.check(draft.household_ref, "household_ref", out)
    if draft.roster_class is None:
        out.append(FieldViolation("roster_class", "must be set"))
    elif (program := CLASS_PROGRAM[draft.roster_class]) not in draft.programs:
        out.append(
            FieldViolation(
                "roster_class",
                f"{draft.roster_class.value} needs program {program.value} in programs",
            )
        )
    when = draft.last_check_date
    if when is not None and not EARLIEST_CHECK <= when <= today:
        out.append(
            FieldViolation(
                "last_check_date", f"must be between {EARLIEST_CHECK} and today ({today})"
            )
        )
    request = None
    try:
        request = validate_request(
            RequestDraft(
                request_id="roster-entry",
                case_id=draft.case_ref,
                authorization_id=draft.authorization_number,
                purposes=draft.programs,
                region=draft.region,
                members=draft.members,
                sources=(),
                window_start="",
                window_end="",
                hukou=draft.hukou,
                declaration=draft.declaration,
            ),
            today=today,
        )
    except InvalidArgument as exc:
        out.extend(FieldViolation(entry_field(v.field), v.description) for v in exc.violations)
    if out or request is None or draft.roster_class is None:
        raise InvalidArgument(out)
    return RosterEntry(
        household_ref=draft.household_ref,
        region=request.household.region,
        programs=tuple(p for p in Purpose if p in request.purposes),
        roster_class=draft.roster_class,
        authorization_number=request.authorization_id,
        case_ref=request.case_id,
        members=request.household.members,
        hukou=request.hukou,
        declaration=request.declaration,
        last_check_date=when,
    )


# ------------------------------------------------------------------------ stored forms
def _member_json(m: Member) -> dict[str, Any]:
    c = m.circumstances
    return {
        "id_type": m.subject.id_type.value,
        "id_number": m.subject.id_number,
        "name": m.subject.name,
        "relation": m.relation.value,
        "circumstances": {
            "disability_grade": c.disability_grade,
            "serious_illness": c.serious_illness,
            "in_school": c.in_school,
            "able_to_work": c.able_to_work,
            "supporter": c.supporter.value,
        },
    }


def _member_from(doc: Mapping[str, Any]) -> Member:
    c = doc["circumstances"]
    return Member(
        subject=Subject(IdType(doc["id_type"]), doc["id_number"], doc["name"]),
        relation=Relation(doc["relation"]),
        circumstances=Circumstances(
            disability_grade=c["disability_grade"],
            serious_illness=c["serious_illness"],
            in_school=c["in_school"],
            able_to_work=c["able_to_work"],
            supporter=SupporterStatus(c["supporter"]),
        ),
    )


def household_to_json(entry: RosterEntry) -> dict[str, Any]:
    """The personal part of an entry (raw ID numbers and names): seal it before storing."""
    d = entry.declaration
    return {
        "members": [_member_json(m) for m in entry.members],
        "declaration": None
        if d is None
        else {
            "monthly_income_fen": [[c.value, f] for c, f in d.monthly_income_fen],
            "assets": [[a.category.value, a.value_fen, a.count] for a in d.assets],
            "member_count": d.member_count,
        },
    }


def household_from_json(
    doc: Mapping[str, Any],
) -> tuple[tuple[Member, ...], Declaration | None]:
    d = doc.get("declaration")
    declaration = (
        None
        if not d
        else Declaration(
            monthly_income_fen=tuple((IncomeCategory(c), f) for c, f in d["monthly_income_fen"]),
            assets=tuple(DeclaredAsset(AssetCategory(c), v, n) for c, v, n in d["assets"]),
            member_count=d["member_count"],
        )
    )
    return tuple(_member_from(m) for m in doc["members"]), declaration


def entry_content(entry: RosterEntry) -> dict[str, Any]:
    """Everything the case system owns about the entry, as JSON: two imports with equal
    content are the same import. Holds raw personal data: digest it with a key, never
    store or log it plain."""
    return {
        "household_ref": entry.household_ref,
        "region": entry.region,
        "programs": [p.value for p in entry.programs],
        "roster_class": entry.roster_class.value,
        "authorization_number": entry.authorization_number,
        "case_ref": entry.case_ref,
        "hukou": entry.hukou.value,
        "last_check_date": entry.last_check_date.isoformat() if entry.last_check_date else None,
        **household_to_json(entry),
    }
