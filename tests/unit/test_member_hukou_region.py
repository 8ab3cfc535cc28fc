"""A member's 户籍 region (issue 15): validated like the household's region with a known
province, kept through the stored JSON, and read by federation routing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest
from hedui.v1 import common_pb2
from hedui.v1 import verification_pb2 as vpb

from hedui_sdk import IdType
from tests.fakes import synthetic_id
from verifier.api.translate import draft_from_pb
from verifier.domain.errors import InvalidArgument
from verifier.domain.household import (
    MemberDraft,
    Purpose,
    Relation,
    RequestDraft,
    VerificationRequest,
    member_regions,
    request_from_json,
    request_to_json,
    validate_request,
)

TODAY = date(2026, 11, 26)
FIELD = "household.members[2].hukou_region_code"


def _draft(hukou: tuple[str, str, str] = ("", "", "")) -> RequestDraft:
    relations = (Relation.APPLICANT, Relation.SPOUSE, Relation.CHILD)
    return RequestDraft(
        request_id="r-1",
        case_id="C-1",
        authorization_id="A-1",
        purposes=(Purpose.DIBAO,),
        region="370322",
        members=tuple(
            MemberDraft(IdType.RESIDENT_ID, synthetic_id(seq=i + 1), "测试", rel, hukou_region=code)
            for i, (rel, code) in enumerate(zip(relations, hukou, strict=True))
        ),
        sources=(),
        window_start="",
        window_end="",
    )


def _violations(d: RequestDraft) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as ei:
        validate_request(d, today=TODAY)
    return {v.field: v.description for v in ei.value.violations}


@pytest.mark.parametrize(
    "bad",
    [
        "11010",  # too short
        "1101011",  # too long
        "11010\uff13",  # fullwidth ３
        "11010\u0663",  # Arabic-Indic ٣
        "110101\n",  # trailing newline
        " 110101",
        "001234",  # no leading zero in GB/T 2260
        "991234",  # no such province
        "191234",
        "721234",
    ],
)
def test_a_bad_hukou_region_is_a_field_violation_naming_the_member(bad: str) -> None:
    v = _violations(_draft(("", "", bad)))
    assert list(v) == [FIELD]
    # The message never repeats the value (it says which rule, not what was sent).
    assert bad.strip() not in v[FIELD]


def test_empty_or_a_province_code_is_accepted_and_kept_as_given() -> None:
    req = validate_request(_draft(("", "110101", "370322")), today=TODAY)
    assert [m.hukou_region for m in req.household.members] == ["", "110101", "370322"]
    # "" means the household's region; one equal to it is not cleared.
    assert member_regions(req) == ("370322", "110101", "370322")


def _request(hukou: tuple[str, str, str]) -> VerificationRequest:
    return validate_request(_draft(hukou), today=TODAY)


def test_json_round_trip_keeps_the_hukou_region() -> None:
    req = _request(("", "110101", "440305"))
    doc = json.loads(json.dumps(request_to_json(req)))
    assert request_from_json(doc) == req
    assert [m.get("hukou_region") for m in doc["members"]] == [None, "110101", "440305"]


def test_json_omits_an_empty_hukou_region_so_old_stored_requests_read_back_equal() -> None:
    req = _request(("", "", ""))
    doc = request_to_json(req)
    assert all("hukou_region" not in m for m in doc["members"])  # type: ignore[attr-defined]
    # A document written before the field existed: the same keys, read back equal.
    assert request_from_json(json.loads(json.dumps(doc))) == req
    assert request_to_json(request_from_json(json.loads(json.dumps(doc)))) == doc


def test_member_regions_fall_back_to_the_household_region() -> None:
    req = _request(("", "", ""))
    assert member_regions(req) == ("370322",) * 3
    moved = replace(
        req,
        household=replace(
            req.household,
            members=(
                req.household.members[0],
                replace(req.household.members[1], hukou_region="510104"),
                req.household.members[2],
            ),
        ),
    )
    assert member_regions(moved) == ("370322", "510104", "370322")


def test_the_wire_field_reaches_the_draft() -> None:
    wire = vpb.CreateVerificationRequest(
        household=vpb.Household(
            region_code="370322",
            members=[
                vpb.Member(
                    id_type=common_pb2.ID_TYPE_RESIDENT_ID,
                    id_number=synthetic_id(seq=1),
                    name="测试",
                    relation=common_pb2.RELATION_APPLICANT,
                    hukou_region_code="110101",
                ),
                vpb.Member(
                    id_type=common_pb2.ID_TYPE_RESIDENT_ID,
                    id_number=synthetic_id(seq=2),
                    name="测试",
                    relation=common_pb2.RELATION_SPOUSE,
                ),
            ],
        )
    )
    assert [m.hukou_region for m in draft_from_pb(wire).members] == ["110101", ""]


def test_the_household_file_carries_the_field_in_either_spelling() -> None:
    from verifier.api.client import request_from_json as household_file

    for key in ("hukouRegionCode", "hukou_region_code"):
        doc = {
            "household": {
                "regionCode": "370322",
                "members": [{"idType": "ID_TYPE_RESIDENT_ID", key: "110101"}],
            }
        }
        assert household_file(doc).household.members[0].hukou_region_code == "110101"
