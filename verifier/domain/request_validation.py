"""Validating a request draft: every problem named with its field, nothing half-checked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from hedui_sdk import IdType, IncomeCategory, SourceKind, Subject, Window
from hedui_sdk.resident_id import PROVINCE_CODES
from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.request_model import (
    MAX_DECLARED_ASSETS,
    MAX_DEDUCTIONS,
    MAX_MEMBERS,
    Circumstances,
    Declaration,
    DeclaredAsset,
    DeductionClaim,
    Household,
    HukouNature,
    Member,
    MemberDraft,
    Purpose,
    Relation,
    RequestDraft,
    VerificationRequest,
)


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
    _check_hukou_region(m.hukou_region, f"{path}.hukou_region_code", out)


def _check_hukou_region(code: str, field: str, out: list[FieldViolation]) -> None:
    """Empty (the household's region), or the household region's format whose first two
    digits are a province: the code picks the deployment asked about the member, so a
    well-shaped code of no province must not pass as a region no peer serves."""
    if not code:
        return
    problem = ids.REGION_CODE.problem(code)
    if problem is None and code[:2] not in PROVINCE_CODES:
        problem = "must begin with a GB/T 2260 province code"
    if problem is not None:
        out.append(FieldViolation(field, problem))


def _check_money(value: int, field: str, out: list[FieldViolation]) -> None:
    # int64 on the wire; amounts above 10^12 yuan are a typo, not a household.
    if not 0 <= value <= 10**14:
        out.append(FieldViolation(field, "must be a non-negative amount in fen"))


def _check_programs(
    field: str, programs: Sequence[Purpose | None], out: list[FieldViolation]
) -> None:
    """Each a known program, none twice."""
    for i, p in enumerate(programs):
        if p is None:
            out.append(FieldViolation(f"{field}[{i}]", "must be a known program"))
    if len(set(programs)) != len(programs):
        out.append(FieldViolation(field, "must not repeat a program"))


def _check_extras(draft: RequestDraft, out: list[FieldViolation]) -> None:
    if draft.hukou is None:
        out.append(FieldViolation("hukou_nature", "must be URBAN or RURAL"))
    _check_programs("current_programs", draft.current_programs, out)
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
    _check_programs("purposes", draft.purposes, out)
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
            hukou_region=m.hukou_region,
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
