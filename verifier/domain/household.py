"""The verification request: who is checked, for what, under which authorization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from hedui_sdk import AssetCategory, IdType, IncomeCategory, SourceKind, Subject, Window
from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation, InvalidArgument

MAX_MEMBERS = 30
MAX_DEDUCTIONS = 100
MAX_DECLARED_ASSETS = 100


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


class HukouNature(StrEnum):
    """户口性质: which 低保 standard applies."""

    URBAN = "urban"
    RURAL = "rural"


HUKOU_LABELS: dict[HukouNature, str] = {HukouNature.URBAN: "城市", HukouNature.RURAL: "农村"}


class DeductionKind(StrEnum):
    """刚性支出 and necessary job costs that may be deducted from household income."""

    ILLNESS = "illness"
    """医疗: out-of-pocket medical expenses."""
    DISABILITY_CARE = "disability_care"
    """残疾康复、护理."""
    SCHOOLING = "schooling"
    """就学."""
    EMPLOYMENT_COST = "employment_cost"
    """必要的就业成本."""


class SupporterStatus(StrEnum):
    """法定赡养、抚养、扶养义务人 outside the household, as the case file establishes it."""

    UNKNOWN = "unknown"
    """Not established: 特困 needs review."""
    NONE = "none"
    """无法定义务人."""
    INCAPABLE = "incapable"
    """有义务人但其无履行能力 (itself 特困/低保/重残…): counts as none for 特困."""
    CAPABLE = "capable"
    """有具备履行能力的义务人."""


@dataclass(frozen=True, slots=True)
class Circumstances:
    """What the case file establishes about a member."""

    disability_grade: int | None = None
    serious_illness: bool = False
    in_school: bool = False
    able_to_work: bool | None = None
    supporter: SupporterStatus = SupporterStatus.UNKNOWN


@dataclass(frozen=True, slots=True)
class Member:
    subject: Subject
    relation: Relation
    circumstances: Circumstances = Circumstances()


@dataclass(frozen=True, slots=True)
class DeductionClaim:
    """An expense over the window to deduct from income, with its evidence reference."""

    kind: DeductionKind
    amount_fen: int
    evidence_ref: str
    member_index: int | None = None


@dataclass(frozen=True, slots=True)
class DeclaredAsset:
    category: AssetCategory
    value_fen: int
    count: int = 0


@dataclass(frozen=True, slots=True)
class Declaration:
    """家庭经济状况申报. Absent categories mean "declared none"."""

    monthly_income_fen: tuple[tuple[IncomeCategory, int], ...] = ()
    assets: tuple[DeclaredAsset, ...] = ()
    member_count: int | None = None


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
    hukou: HukouNature = HukouNature.RURAL
    declaration: Declaration | None = None
    deductions: tuple[DeductionClaim, ...] = ()
    current_programs: tuple[Purpose, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberDraft:
    """A member as received, before validation; ``None`` stands for an unset enum."""

    id_type: IdType | None
    id_number: str
    name: str
    relation: Relation | None
    disability_grade: int = 0
    serious_illness: bool = False
    in_school: bool = False
    able_to_work: bool | None = None
    supporter: SupporterStatus = SupporterStatus.UNKNOWN


@dataclass(frozen=True, slots=True)
class DeductionDraft:
    kind: DeductionKind | None
    amount_fen: int
    evidence_ref: str
    member_index: int | None


@dataclass(frozen=True, slots=True)
class DeclarationDraft:
    incomes: tuple[tuple[IncomeCategory | None, int], ...] = ()
    assets: tuple[tuple[AssetCategory | None, int, int], ...] = ()
    member_count: int = 0


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
    hukou: HukouNature | None = HukouNature.RURAL
    declaration: DeclarationDraft | None = None
    deductions: tuple[DeductionDraft, ...] = ()
    current_programs: tuple[Purpose | None, ...] = ()
    # What the wire translation already found wrong (an enum number no draft field can
    # hold, say), reported together with everything validation finds.
    wire_violations: tuple[FieldViolation, ...] = ()


def default_window(today: date) -> Window:
    """The 12 full months before the request date's month.

    Whole calendar months keep monthly income figures comparable with monthly standards.
    """
    first_of_month = today.replace(day=1)
    end = first_of_month - timedelta(days=1)
    start = date(first_of_month.year - 1, first_of_month.month, 1)
    return Window(start=start, end=end)


def _check_member(i: int, m: MemberDraft, today: date, out: list[FieldViolation]) -> None:
    path = f"household.members[{i}]"
    if m.id_type is None:
        out.append(FieldViolation(f"{path}.id_type", "must be set"))
    ids.check_id_number(m.id_type, m.id_number, f"{path}.id_number", today, out)
    ids.check_person_name(m.name, f"{path}.name", out)
    if m.relation is None:
        out.append(FieldViolation(f"{path}.relation", "must be set"))
    if not 0 <= m.disability_grade <= 4:
        out.append(
            FieldViolation(f"{path}.circumstances.disability_grade", "must be 0 (none) to 4")
        )


def _check_money(value: int, field: str, out: list[FieldViolation]) -> None:
    # int64 on the wire; amounts above 10^12 yuan are a typo, not a household.
    if not 0 <= value <= 10**14:
        out.append(FieldViolation(field, "must be a non-negative amount in fen"))


def _check_extras(draft: RequestDraft, out: list[FieldViolation]) -> None:
    if draft.hukou is None:
        out.append(FieldViolation("hukou_nature", "must be URBAN or RURAL"))
    for i, p in enumerate(draft.current_programs):
        if p is None:
            out.append(FieldViolation(f"current_programs[{i}]", "must be a known program"))
    if len(set(draft.current_programs)) != len(draft.current_programs):
        out.append(FieldViolation("current_programs", "must not repeat a program"))
    if len(draft.deductions) > MAX_DEDUCTIONS:
        out.append(FieldViolation("deductions", f"must have at most {MAX_DEDUCTIONS} entries"))
        return
    for i, d in enumerate(draft.deductions):
        path = f"deductions[{i}]"
        if d.kind is None:
            out.append(FieldViolation(f"{path}.kind", "must be set"))
        _check_money(d.amount_fen, f"{path}.amount_fen", out)
        ids.EVIDENCE_REF.check(d.evidence_ref, f"{path}.evidence_ref", out)
        if d.member_index is not None and not 0 <= d.member_index < len(draft.members):
            out.append(FieldViolation(f"{path}.member_index", "must index a household member"))
    decl = draft.declaration
    if decl is None:
        return
    seen: set[IncomeCategory] = set()
    for i, (cat, fen) in enumerate(decl.incomes):
        path = f"declaration.incomes[{i}]"
        if cat is None:
            out.append(FieldViolation(f"{path}.category", "must be set"))
        elif cat in seen:
            out.append(FieldViolation(f"{path}.category", "must not repeat a category"))
        else:
            seen.add(cat)
        _check_money(fen, f"{path}.monthly_fen", out)
    if len(decl.assets) > MAX_DECLARED_ASSETS:
        out.append(
            FieldViolation("declaration.assets", f"must have at most {MAX_DECLARED_ASSETS} entries")
        )
        return
    for i, (acat, value, count) in enumerate(decl.assets):
        path = f"declaration.assets[{i}]"
        if acat is None:
            out.append(FieldViolation(f"{path}.category", "must be set"))
        _check_money(value, f"{path}.value_fen", out)
        if count < 0:
            out.append(FieldViolation(f"{path}.count", "must not be negative"))
    if not 0 <= decl.member_count <= MAX_MEMBERS:
        out.append(
            FieldViolation("declaration.member_count", f"must be 0 (not declared) to {MAX_MEMBERS}")
        )


def _check_list_lengths(draft: RequestDraft, out: list[FieldViolation]) -> None:
    """Lists of distinct enum values cannot be longer than the enum: refuse a longer one
    whole, before looking at each of (possibly) millions of entries."""
    if len(draft.purposes) > len(Purpose):
        out.append(FieldViolation("purposes", "must not repeat a program"))
        raise InvalidArgument(out)
    if len(draft.current_programs) > len(Purpose):
        out.append(FieldViolation("current_programs", "must not repeat a program"))
        raise InvalidArgument(out)
    if len(draft.sources) > len(SourceKind):
        out.append(FieldViolation("sources", "must not repeat a source"))
        raise InvalidArgument(out)


def validate_request(draft: RequestDraft, *, today: date) -> VerificationRequest:
    """Check everything about a request before anything else happens.

    Raises :class:`InvalidArgument` naming every bad field; messages never repeat an ID
    number or a name.
    """
    out: list[FieldViolation] = list(draft.wire_violations)
    ids.REQUEST_ID.check(draft.request_id, "request_id", out)
    ids.CASE_ID.check(draft.case_id, "case_id", out)
    ids.AUTHORIZATION_NUMBER.check(draft.authorization_id, "authorization_id", out)
    _check_list_lengths(draft, out)
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
    ids.REGION_CODE.check(draft.region, "household.region_code", out)

    n = len(draft.members)
    if n == 0:
        out.append(FieldViolation("household.members", "must have at least 1 member"))
    elif n > MAX_MEMBERS:
        out.append(
            FieldViolation("household.members", f"must have at most {MAX_MEMBERS} members, got {n}")
        )
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
                FieldViolation(
                    "household.members", f"must have exactly one applicant, got {applicants}"
                )
            )

    _check_extras(draft, out)
    window = default_window(today)
    if draft.window_start or draft.window_end:
        start = ids.check_date(draft.window_start, "window.start_date", out)
        end = ids.check_date(draft.window_end, "window.end_date", out)
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
                id_type=m.id_type, id_number=m.id_number.upper(), name=ids.person_name(m.name)
            ),
            relation=m.relation,
            circumstances=Circumstances(
                disability_grade=m.disability_grade or None,
                serious_illness=m.serious_illness,
                in_school=m.in_school,
                able_to_work=m.able_to_work,
                supporter=m.supporter,
            ),
        )
        for m in draft.members
        if m.id_type is not None and m.relation is not None
    )
    decl = draft.declaration
    declaration = (
        None
        if decl is None
        else Declaration(
            monthly_income_fen=tuple((c, f) for c, f in decl.incomes if c is not None),
            assets=tuple(DeclaredAsset(c, v, n) for c, v, n in decl.assets if c is not None),
            member_count=decl.member_count or None,
        )
    )
    return VerificationRequest(
        request_id=draft.request_id,
        case_id=draft.case_id,
        authorization_id=draft.authorization_id,
        purposes=tuple(p for p in draft.purposes if p is not None),
        household=Household(region=draft.region, members=members),
        sources=tuple(s for s in draft.sources if s is not None),
        window=window,
        hukou=draft.hukou or HukouNature.RURAL,
        declaration=declaration,
        deductions=tuple(
            DeductionClaim(d.kind, d.amount_fen, d.evidence_ref, d.member_index)
            for d in draft.deductions
            if d.kind is not None
        ),
        current_programs=tuple(p for p in draft.current_programs if p is not None),
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
                "circumstances": {
                    "disability_grade": m.circumstances.disability_grade,
                    "serious_illness": m.circumstances.serious_illness,
                    "in_school": m.circumstances.in_school,
                    "able_to_work": m.circumstances.able_to_work,
                    "supporter": m.circumstances.supporter.value,
                },
            }
            for m in req.household.members
        ],
        "sources": [s.value for s in req.sources],
        "window": {"start": req.window.start.isoformat(), "end": req.window.end.isoformat()},
        "hukou": req.hukou.value,
        "declaration": None
        if req.declaration is None
        else {
            "monthly_income_fen": [[c.value, f] for c, f in req.declaration.monthly_income_fen],
            "assets": [[a.category.value, a.value_fen, a.count] for a in req.declaration.assets],
            "member_count": req.declaration.member_count,
        },
        "deductions": [
            [d.kind.value, d.amount_fen, d.evidence_ref, d.member_index] for d in req.deductions
        ],
        "current_programs": [p.value for p in req.current_programs],
    }


def _circumstances(doc: dict[str, Any] | None) -> Circumstances:
    if not doc:
        return Circumstances()
    return Circumstances(
        disability_grade=doc["disability_grade"],
        serious_illness=doc["serious_illness"],
        in_school=doc["in_school"],
        able_to_work=doc["able_to_work"],
        supporter=SupporterStatus(doc["supporter"]),
    )


def request_from_json(doc: dict[str, Any]) -> VerificationRequest:
    decl = doc.get("declaration")
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
                    circumstances=_circumstances(m.get("circumstances")),
                )
                for m in doc["members"]
            ),
        ),
        sources=tuple(SourceKind(s) for s in doc["sources"]),
        window=Window(
            date.fromisoformat(doc["window"]["start"]), date.fromisoformat(doc["window"]["end"])
        ),
        hukou=HukouNature(doc.get("hukou", "rural")),
        declaration=None
        if not decl
        else Declaration(
            monthly_income_fen=tuple((IncomeCategory(c), f) for c, f in decl["monthly_income_fen"]),
            assets=tuple(DeclaredAsset(AssetCategory(c), v, n) for c, v, n in decl["assets"]),
            member_count=decl["member_count"],
        ),
        deductions=tuple(
            DeductionClaim(DeductionKind(k), a, e, i) for k, a, e, i in doc.get("deductions", [])
        ),
        current_programs=tuple(Purpose(p) for p in doc.get("current_programs", [])),
    )
