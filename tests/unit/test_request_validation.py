from __future__ import annotations

from datetime import date

import pytest

from adapters import IdType, SourceKind
from tests.fakes import synthetic_id, with_wrong_check_digit
from verifier.domain.errors import InvalidArgument
from verifier.domain.household import (
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
