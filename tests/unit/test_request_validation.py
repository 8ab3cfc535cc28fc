from __future__ import annotations

from datetime import date

import pytest

from hedui_sdk import IdType, SourceKind
from tests.fakes import synthetic_id, with_wrong_check_digit
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.household import (
    DeductionDraft,
    DeductionKind,
    MemberDraft,
    Purpose,
    Relation,
    RequestDraft,
    default_window,
    validate_request,
)

TODAY = date(2026, 11, 26)


def member(seq: int, relation: Relation = Relation.CHILD) -> MemberDraft:
    return MemberDraft(IdType.RESIDENT_ID, synthetic_id(seq=seq), "测试", relation)


def draft(members: tuple[MemberDraft, ...], **kw: object) -> RequestDraft:
    base: dict[str, object] = dict(
        request_id="r-1",
        case_id="C-1",
        authorization_id="A-1",
        purposes=(Purpose.DIBAO,),
        region="370322",
        members=members,
        sources=(),
        window_start="",
        window_end="",
    )
    base.update(kw)
    return RequestDraft(**base)  # type: ignore[arg-type]


def violations(d: RequestDraft) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as ei:
        validate_request(d, today=TODAY)
    return {v.field: v.description for v in ei.value.violations}


def test_valid_request_uses_the_twelve_months_before_the_request_month() -> None:
    req = validate_request(draft((member(1, Relation.APPLICANT), member(2))), today=TODAY)
    assert req.window.start == date(2025, 11, 1) and req.window.end == date(2026, 10, 31)
    assert default_window(date(2026, 1, 15)).start == date(2025, 1, 1)


def test_malformed_id_names_member_and_expected_check_digit() -> None:
    good = synthetic_id(seq=3)
    bad = good[:17] + ("0" if good[-1] != "0" else "1")
    v = violations(
        draft(
            (
                member(1, Relation.APPLICANT),
                MemberDraft(IdType.RESIDENT_ID, bad, "测试", Relation.CHILD),
            )
        )
    )
    assert v == {"household.members[1].id_number": f"check digit should be {good[-1]}"}


def test_empty_household() -> None:
    assert violations(draft(())) == {"household.members": "must have at least 1 member"}


def test_thirty_one_members() -> None:
    members = (member(0, Relation.APPLICANT), *(member(i) for i in range(1, 31)))
    assert violations(draft(members)) == {
        "household.members": "must have at most 30 members, got 31"
    }


def test_thirty_members_is_fine() -> None:
    members = (member(0, Relation.APPLICANT), *(member(i) for i in range(1, 30)))
    assert len(validate_request(draft(members), today=TODAY).household.members) == 30


def test_duplicate_member() -> None:
    v = violations(draft((member(1, Relation.APPLICANT), member(2), member(2))))
    assert v == {"household.members[2].id_number": "duplicates household.members[1]"}


def test_every_bad_field_is_named_at_once() -> None:
    v = violations(
        draft(
            (MemberDraft(None, "", " ", None),),
            request_id="",
            purposes=(),
            region="37",
            sources=(SourceKind.TAX, SourceKind.TAX),
            window_start="2026-13-01",
            window_end="2026-01-01",
        )
    )
    assert set(v) == {
        "request_id",
        "purposes",
        "sources",
        "household.region_code",
        "household.members[0].id_type",
        "household.members[0].id_number",
        "household.members[0].name",
        "household.members[0].relation",
        "household.members",
        "window.start_date",
    }


def test_window_rules() -> None:
    base = (member(1, Relation.APPLICANT),)
    assert violations(draft(base, window_start="2026-05-01", window_end="2026-04-01")) == {
        "window": "start_date must not be after end_date"
    }
    assert violations(draft(base, window_start="2026-05-01", window_end="2027-01-01")) == {
        "window.end_date": "must not be in the future"
    }
    req = validate_request(
        draft(base, window_start="2026-01-01", window_end="2026-06-30"), today=TODAY
    )
    assert (req.window.start, req.window.end) == (date(2026, 1, 1), date(2026, 6, 30))


def test_violation_messages_never_carry_the_id_number() -> None:
    bad = with_wrong_check_digit(synthetic_id(seq=5))
    with pytest.raises(InvalidArgument) as ei:
        validate_request(
            draft((MemberDraft(IdType.RESIDENT_ID, bad, "测试", Relation.APPLICANT),)), today=TODAY
        )
    assert bad not in str(ei.value)


# ------------------------------------------------------------- hostile input (issue 12)
def one() -> tuple[MemberDraft, ...]:
    return (member(1, Relation.APPLICANT),)


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("household.region_code", {"region": "370322\n"}),
        ("request_id", {"request_id": "r-1\n"}),
        ("case_id", {"case_id": "C-1\n"}),
        ("authorization_id", {"authorization_id": "A-1\n"}),
    ],
)
def test_a_trailing_newline_is_refused(field: str, change: dict[str, str]) -> None:
    assert set(violations(draft(one(), **change))) == {field}


def test_a_fullwidth_digit_in_an_id_number_is_refused_with_its_position() -> None:
    good = synthetic_id(seq=1)
    bad = good[:9] + chr(0xFF10 + int(good[9])) + good[10:]
    v = violations(draft((MemberDraft(IdType.RESIDENT_ID, bad, "测试", Relation.APPLICANT),)))
    assert v == {
        "household.members[0].id_number": (
            "character 10 is a non-ASCII digit; only the ASCII digits 0-9 are allowed"
        )
    }


def test_a_lowercase_check_character_is_refused() -> None:
    good = next(synthetic_id(seq=s) for s in range(1000) if synthetic_id(seq=s).endswith("X"))
    v = violations(
        draft((MemberDraft(IdType.RESIDENT_ID, good[:17] + "x", "测试", Relation.APPLICANT),))
    )
    assert v["household.members[0].id_number"].startswith("character 18 is a lowercase x")


def test_other_documents_refuse_non_ascii() -> None:
    m = MemberDraft(IdType.PASSPORT, "E１2345678", "测试", Relation.APPLICANT)
    assert set(violations(draft((m,)))) == {"household.members[0].id_number"}
    ok = MemberDraft(IdType.PASSPORT, "e12345678", "测试", Relation.APPLICANT)
    req = validate_request(draft((ok,)), today=TODAY)
    assert req.household.members[0].subject.id_number == "E12345678"


@pytest.mark.parametrize("name", ["测\x07试", "测试\x00", "测\u202e试", "测试\n"])
def test_a_name_with_a_control_character_is_refused(name: str) -> None:
    m = MemberDraft(IdType.RESIDENT_ID, synthetic_id(seq=1), name, Relation.APPLICANT)
    assert set(violations(draft((m,)))) == {"household.members[0].name"}


@pytest.mark.parametrize("field", ["request_id", "case_id", "authorization_id"])
@pytest.mark.parametrize("shape", ["{}", "CASE-{}", "{}x"])
def test_identifiers_refuse_an_id_number(field: str, shape: str) -> None:
    number = synthetic_id(seq=9)
    value = shape.format(number if shape != "{}x" else number[:17])
    v = violations(draft(one(), **{field: value}))
    assert set(v) == {field}
    assert number[:17] not in v[field]


def test_evidence_refs_are_identifiers() -> None:
    def with_ref(ref: str) -> RequestDraft:
        return draft(one(), deductions=(DeductionDraft(DeductionKind.ILLNESS, 100, ref, None),))

    assert validate_request(with_ref("INV-2026-0412"), today=TODAY).deductions
    for ref in (f"发票{synthetic_id(seq=9)}", synthetic_id(seq=9), "INV-1\n", " INV-1", "发票"):
        assert set(violations(with_ref(ref))) == {"deductions[0].evidence_ref"}, ref


def test_window_dates_are_yyyy_mm_dd() -> None:
    assert set(violations(draft(one(), window_start="20260101", window_end="2026-06-30"))) == {
        "window.start_date"
    }


def test_wire_violations_are_reported_with_the_rest() -> None:
    wire = (FieldViolation("household.members[0].circumstances.supporter", "unknown"),)
    v = violations(draft(one(), wire_violations=wire, case_id=""))
    assert set(v) == {"household.members[0].circumstances.supporter", "case_id"}


def test_repeated_lists_are_bounded() -> None:
    many = tuple(DeductionDraft(DeductionKind.ILLNESS, 1, f"INV-{i}", None) for i in range(101))
    assert violations(draft(one(), deductions=many)) == {
        "deductions": "must have at most 100 entries"
    }
    assert violations(draft(one(), current_programs=(Purpose.DIBAO, Purpose.DIBAO))) == {
        "current_programs": "must not repeat a program"
    }
