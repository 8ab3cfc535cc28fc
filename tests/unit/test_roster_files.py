"""Roster files: CSV (one row per member, grouped by household) and JSON lines. Every bad
row is named with its line and field, and no problem repeats the value it refuses."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from hedui.v1 import common_pb2 as common
from hedui.v1 import roster_pb2 as pb
from hedui.v1 import verification_pb2 as vpb

from tests.roster import CSV_HEADER, csv_rows, member_ids
from verifier.api.roster_files import (
    RosterFileError,
    read_csv,
    read_json_lines,
    read_roster_file,
)


def csv_text(*households: list[str], header: str = CSV_HEADER) -> str:
    return "\n".join([header, *(row for rows in households for row in rows)]) + "\n"


def problems(text: str, reader=read_csv) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [(p.line, p.field) for p in reader(text).problems]


def test_a_good_csv_file() -> None:
    text = "\ufeff" + csv_text(
        csv_rows("HH-1", last_check="2025-03-02"), csv_rows("HH-2", roster_class="dibao_c")
    ).replace("\n", "\r\n")
    f = read_csv(text)
    assert f.problems == []
    assert [e.entry.household_ref for e in f.entries] == ["HH-1", "HH-2"]
    one = f.entries[0]
    assert (one.line, one.member_lines) == (2, [2, 3])
    e = one.entry
    assert e.roster_class == pb.ROSTER_CLASS_DIBAO_A
    assert list(e.programs) == [common.PURPOSE_DIBAO]
    assert [m.id_number for m in e.members] == member_ids("HH-1")
    assert [m.relation for m in e.members] == [common.RELATION_APPLICANT, common.RELATION_SPOUSE]
    assert (e.last_check_date.year, e.last_check_date.month, e.last_check_date.day) == (
        2025,
        3,
        2,
    )
    assert f.entries[1].entry.roster_class == pb.ROSTER_CLASS_DIBAO_C
    assert not f.entries[1].entry.HasField("last_check_date")


def test_csv_declaration_columns() -> None:
    header = (
        CSV_HEADER + ",declared_member_count,declared_income_wages_fen,declared_asset_vehicle_count"
    )
    rows = [r + ",2,150000,1" if i == 0 else r + ",,," for i, r in enumerate(csv_rows("HH-1"))]
    f = read_csv(csv_text(rows, header=header))
    assert f.problems == []
    d = f.entries[0].entry.declaration
    assert d.member_count == 2
    assert [(i.category, i.monthly_fen) for i in d.incomes] == [
        (common.INCOME_CATEGORY_WAGES, 150000)
    ]
    assert [(a.category, a.count) for a in d.assets] == [(common.ASSET_CATEGORY_VEHICLE, 1)]


def test_every_bad_csv_row_is_named_by_line_and_column() -> None:
    bad_id = member_ids("HH-2")[1][:17] + ("1" if member_ids("HH-2")[1][17] != "1" else "2")
    hh2 = csv_rows("HH-2")
    hh2[1] = hh2[1].replace(member_ids("HH-2")[1], bad_id)
    hh3 = [r.replace(",applicant,", ",boss,") for r in csv_rows("HH-3")]
    hh4 = csv_rows("HH-4", programs="dibao;tekun;lottery", roster_class="dibao_z")
    hh5 = csv_rows("HH-5")
    hh5[1] = hh5[1].replace(",,,,,,,,", ",341801,,,,,,,")  # a second row naming another region
    hh6 = csv_rows("HH-6")
    hh6[0] = hh6[0].replace(",0,false", ",七,false")
    hh7 = csv_rows("HH-7", last_check="2025-02-30")
    text = csv_text(
        csv_rows("HH-1"),  # lines 2-3
        hh2,  # 4-5: a wrong check digit on the spouse's row
        hh3,  # 6-7: an unknown relation
        hh4,  # 8-9: an unknown program and class
        hh5,  # 10-11: a household column differs on a later row
        hh6,  # 12-13: a disability grade that is not a number
        hh7,  # 14-15: no such day
        [csv_rows("HH-1")[0]],  # 16: HH-1 again, after others
        ["HH-8,341824"],  # 17: too few cells
    )
    found = problems(text)
    assert (5, "id_number") in found
    assert (6, "relation") in found
    assert (8, "programs") in found and (8, "roster_class") in found
    assert (11, "region_code") in found
    assert (12, "disability_grade") in found
    assert (14, "last_check_date") in found
    assert (16, "household_ref") in found
    assert (17, "row") in found
    assert not any(line in (2, 3) for line, _ in found)
    f = read_csv(text)
    assert [e.entry.household_ref for e in f.good] == ["HH-1"]
    assert all(bad_id not in str(p) and "lottery" not in str(p) for p in f.problems)


def test_a_first_row_without_a_household_ref() -> None:
    rows = csv_rows("HH-1")
    assert problems(csv_text([rows[1], rows[0]])) == [(2, "household_ref")]


def test_a_household_needs_one_applicant() -> None:
    rows = [r.replace(",applicant,", ",spouse,") for r in csv_rows("HH-1")]
    assert problems(csv_text(rows)) == [(2, "members")]


def test_csv_header_problems() -> None:
    assert problems(csv_text(csv_rows("HH-1"), header=CSV_HEADER + ",colour")) == [(1, "header")]
    missing = CSV_HEADER.replace("relation,", "")
    rows = [",".join(r.split(",")[:11] + r.split(",")[12:]) for r in csv_rows("HH-1")]
    assert problems(csv_text(rows, header=missing)) == [(1, "relation")]
    assert problems('"unclosed\n') == [(1, "header")]


def test_a_malformed_csv_line_is_named() -> None:
    text = csv_text(csv_rows("HH-1")) + 'HH-2,"341824\n'
    assert (4, "row") in problems(text)


def jsonl(entry: pb.RosterEntry) -> str:
    return json_format.MessageToJson(entry, indent=None)


def good_entry(ref: str = "HH-1") -> pb.RosterEntry:
    ids = member_ids(ref)
    return pb.RosterEntry(
        household_ref=ref,
        region_code="341824",
        programs=[common.PURPOSE_DIBAO],
        roster_class=pb.ROSTER_CLASS_DIBAO_B,
        authorization_number=f"SQ-{ref}",
        case_ref=f"CASE-{ref}",
        hukou_nature=common.HUKOU_NATURE_URBAN,
        members=[
            vpb.Member(
                id_type=common.ID_TYPE_RESIDENT_ID,
                id_number=ids[0],
                name="测试甲",
                relation=common.RELATION_APPLICANT,
            )
        ],
    )


def test_good_json_lines_in_either_naming() -> None:
    snake = json.dumps(
        json_format.MessageToDict(good_entry("HH-2"), preserving_proto_field_name=True)
    )
    f = read_json_lines(f"{jsonl(good_entry())}\n\n{snake}\n")
    assert f.problems == []
    assert [(e.line, e.entry.household_ref) for e in f.entries] == [(1, "HH-1"), (3, "HH-2")]


def test_every_bad_json_line_is_named() -> None:
    secret = member_ids("HH-9")[0]
    enum_leak = jsonl(good_entry("HH-3")).replace('"ROSTER_CLASS_DIBAO_B"', f'"{secret}"')
    decimal = json.loads(jsonl(good_entry("HH-5")))
    decimal["declaration"] = {"incomes": [{"category": "INCOME_CATEGORY_WAGES", "monthlyFen": 1.5}]}
    invalid = good_entry("HH-6")
    invalid.members[0].id_number = secret[:17] + ("0" if secret[17] != "0" else "1")
    lines = [
        jsonl(good_entry()),  # 1
        "{not json",  # 2
        "[1, 2]",  # 3
        enum_leak,  # 4
        '{"householdRef": "HH-4", "colour": "blue"}',  # 5
        json.dumps(decimal),  # 6
        jsonl(invalid),  # 7
        jsonl(good_entry()),  # 8: HH-1 again
    ]
    f = read_json_lines("\n".join(lines))
    found = [(p.line, p.field) for p in f.problems]
    assert (2, "line") in found and (3, "line") in found
    assert (4, "roster_class") in found
    assert (5, "colour") in found
    assert (6, "declaration.incomes[0].monthly_fen") in found
    assert (7, "members[0].id_number") in found
    assert (8, "household_ref") in found
    assert not any(line == 1 for line, _ in found)
    assert all(secret not in str(p) and secret[:17] not in str(p) for p in f.problems)
    assert [e.line for e in f.good] == [1]


def test_file_kinds_and_encodings() -> None:
    assert read_roster_file("r.CSV", csv_text(csv_rows("HH-1")).encode()).problems == []
    assert read_roster_file("r.jsonl", jsonl(good_entry()).encode()).problems == []
    with pytest.raises(RosterFileError, match=r"csv or \.jsonl"):
        read_roster_file("r.xlsx", b"")
    with pytest.raises(RosterFileError, match="line 2"):
        read_roster_file("r.csv", csv_text(csv_rows("HH-1")).encode("gb18030"))
