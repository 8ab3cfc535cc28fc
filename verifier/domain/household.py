"""The verification request: who is checked, for what, under which authorization."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from adapters import IdType, SourceKind, Subject, Window
from adapters import resident_id
from verifier.domain.errors import FieldViolation, InvalidArgument

MAX_MEMBERS = 30
_TOKEN = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_REGION = re.compile(r"^[1-9][0-9]{5}$")


class Relation(StrEnum):
    APPLICANT = "applicant"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"
    SIBLING = "sibling"
    SUPPORTER = "supporter"
    OTHER = "other"


class Purpose(StrEnum):
    """The five programs one authorization and one check serve (五合一)."""

    DIBAO = "dibao"
    TEKUN = "tekun"
    LINSHI = "linshi"
    DIBAO_BIANYUAN = "dibao_bianyuan"
    YINBING_ZHIPIN = "yinbing_zhipin"


PURPOSE_LABELS: dict[Purpose, str] = {
    Purpose.DIBAO: "最低生活保障",
    Purpose.TEKUN: "特困人员救助供养",
    Purpose.LINSHI: "临时救助",
    Purpose.DIBAO_BIANYUAN: "低保边缘家庭",
    Purpose.YINBING_ZHIPIN: "因病致贫重病患者",
}


@dataclass(frozen=True, slots=True)
class Member:
    subject: Subject
    relation: Relation


@dataclass(frozen=True, slots=True)
class Household:
    region: str
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class VerificationRequest:
    """A validated request. Build it with :func:`validate_request`."""

    request_id: str
    case_id: str
    authorization_id: str
    purposes: tuple[Purpose, ...]
    household: Household
    sources: tuple[SourceKind, ...]
    window: Window


@dataclass(frozen=True, slots=True)
class MemberDraft:
    """A member as received, before validation; ``None`` stands for an unset enum."""

    id_type: IdType | None
    id_number: str
    name: str
    relation: Relation | None


@dataclass(frozen=True, slots=True)
class RequestDraft:
    """A request as received from the wire, before validation."""

    request_id: str
    case_id: str
    authorization_id: str
    purposes: tuple[Purpose | None, ...]
    region: str
    members: tuple[MemberDraft, ...]
    sources: tuple[SourceKind | None, ...]
    window_start: str
    window_end: str


def default_window(today: date) -> Window:
    """The 12 full months before the request date's month.

    Whole calendar months keep monthly income figures comparable with monthly standards.
    """
    first_of_month = today.replace(day=1)
    end = first_of_month - timedelta(days=1)
    start = date(first_of_month.year - 1, first_of_month.month, 1)
    return Window(start=start, end=end)


def _parse_date(text: str, field: str, out: list[FieldViolation]) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        out.append(FieldViolation(field, "must be a date YYYY-MM-DD"))
        return None


def _check_member(i: int, m: MemberDraft, today: date, out: list[FieldViolation]) -> None:
    path = f"household.members[{i}]"
    if m.id_type is None:
        out.append(FieldViolation(f"{path}.id_type", "must be set"))
    if not m.id_number:
        out.append(FieldViolation(f"{path}.id_number", "must not be empty"))
    elif m.id_type is IdType.RESIDENT_ID:
        out.extend(
            FieldViolation(f"{path}.id_number", p) for p in resident_id.problems(m.id_number, today=today)
        )
    elif len(m.id_number) > 32 or not m.id_number.isalnum():
        out.append(FieldViolation(f"{path}.id_number", "must be 1-32 letters or digits"))
    name = m.name.strip()
    if not name:
        out.append(FieldViolation(f"{path}.name", "must not be empty"))
    elif len(name) > 64 or any(not ch.isprintable() for ch in name):
        out.append(FieldViolation(f"{path}.name", "must be at most 64 printable characters"))
    if m.relation is None:
        out.append(FieldViolation(f"{path}.relation", "must be set"))


def validate_request(draft: RequestDraft, *, today: date) -> VerificationRequest:
    """Check everything about a request before anything else happens.

    Raises :class:`InvalidArgument` naming every bad field; messages never repeat an ID
    number or a name.
    """
    out: list[FieldViolation] = []
    for field, value in (
        ("request_id", draft.request_id),
        ("case_id", draft.case_id),
        ("authorization_id", draft.authorization_id),
    ):
        if not _TOKEN.match(value):
            out.append(FieldViolation(field, "must be 1-64 characters of A-Z a-z 0-9 . _ -"))
    if not draft.purposes:
        out.append(FieldViolation("purposes", "must name at least one program"))
    for i, p in enumerate(draft.purposes):
        if p is None:
            out.append(FieldViolation(f"purposes[{i}]", "must be a known program"))
    if len(set(draft.purposes)) != len(draft.purposes):
        out.append(FieldViolation("purposes", "must not repeat a program"))
    for i, s in enumerate(draft.sources):
        if s is None:
            out.append(FieldViolation(f"sources[{i}]", "must be a known source"))
    if len(set(draft.sources)) != len(draft.sources):
        out.append(FieldViolation("sources", "must not repeat a source"))
    if not _REGION.match(draft.region):
        out.append(FieldViolation("household.region_code", "must be a 6-digit GB/T 2260 code"))

    n = len(draft.members)
    if n == 0:
        out.append(FieldViolation("household.members", "must have at least 1 member"))
    elif n > MAX_MEMBERS:
        out.append(FieldViolation("household.members", f"must have at most {MAX_MEMBERS} members, got {n}"))
    else:
        seen: dict[tuple[IdType | None, str], int] = {}
        for i, m in enumerate(draft.members):
            _check_member(i, m, today, out)
            key = (m.id_type, m.id_number.upper())
            if m.id_number and key in seen:
                out.append(
                    FieldViolation(
                        f"household.members[{i}].id_number",
                        f"duplicates household.members[{seen[key]}]",
                    )
                )
            seen.setdefault(key, i)
        applicants = sum(1 for m in draft.members if m.relation is Relation.APPLICANT)
        if applicants != 1:
            out.append(
                FieldViolation("household.members", f"must have exactly one applicant, got {applicants}")
            )

    window = default_window(today)
    if draft.window_start or draft.window_end:
        start = _parse_date(draft.window_start, "window.start_date", out)
        end = _parse_date(draft.window_end, "window.end_date", out)
        if start and end:
            if start > end:
                out.append(FieldViolation("window", "start_date must not be after end_date"))
            elif end > today:
                out.append(FieldViolation("window.end_date", "must not be in the future"))
            elif (end - start).days > 366 * 3:
                out.append(FieldViolation("window", "must be at most 3 years long"))
            else:
                window = Window(start=start, end=end)
    if out:
        raise InvalidArgument(out)
    members = tuple(
        Member(
            subject=Subject(
                id_type=m.id_type, id_number=m.id_number.upper(), name=m.name.strip()
            ),
            relation=m.relation,
        )
        for m in draft.members
        if m.id_type is not None and m.relation is not None
    )
    return VerificationRequest(
        request_id=draft.request_id,
        case_id=draft.case_id,
        authorization_id=draft.authorization_id,
        purposes=tuple(p for p in draft.purposes if p is not None),
        household=Household(region=draft.region, members=members),
        sources=tuple(s for s in draft.sources if s is not None),
        window=window,
    )


def request_to_json(req: VerificationRequest) -> dict[str, object]:
    """A validated request as JSON (with raw ID numbers: seal it before storing)."""
    return {
        "request_id": req.request_id,
        "case_id": req.case_id,
        "authorization_id": req.authorization_id,
        "purposes": [p.value for p in req.purposes],
        "region": req.household.region,
        "members": [
            {
                "id_type": m.subject.id_type.value,
                "id_number": m.subject.id_number,
                "name": m.subject.name,
                "relation": m.relation.value,
            }
            for m in req.household.members
        ],
        "sources": [s.value for s in req.sources],
        "window": {"start": req.window.start.isoformat(), "end": req.window.end.isoformat()},
    }


def request_from_json(doc: dict[str, Any]) -> VerificationRequest:
    return VerificationRequest(
        request_id=doc["request_id"],
        case_id=doc["case_id"],
        authorization_id=doc["authorization_id"],
        purposes=tuple(Purpose(p) for p in doc["purposes"]),
        household=Household(
            region=doc["region"],
            members=tuple(
                Member(
                    subject=Subject(IdType(m["id_type"]), m["id_number"], m["name"]),
                    relation=Relation(m["relation"]),
                )
                for m in doc["members"]
            ),
        ),
        sources=tuple(SourceKind(s) for s in doc["sources"]),
        window=Window(date.fromisoformat(doc["window"]["start"]), date.fromisoformat(doc["window"]["end"])),
    )
