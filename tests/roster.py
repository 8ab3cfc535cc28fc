"""Building roster entries for tests: synthetic households (IDs from
``hedui_sdk.resident_id.make``), as drafts, as protobuf messages and as file rows."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import date

from hedui_sdk import IdType, resident_id
from verifier.domain.household import HukouNature, MemberDraft, Purpose, Relation
from verifier.domain.roster import RosterClass, RosterEntryDraft

CSV_HEADER = (
    "household_ref,region_code,roster_class,programs,authorization_number,case_ref,"
    "hukou_nature,last_check_date,id_type,id_number,name,relation,disability_grade,"
    "serious_illness"
)


def member_ids(ref: str, region: str = "341824", n: int = 2) -> list[str]:
    """Distinct synthetic ID numbers for a household reference."""
    base = zlib.crc32(ref.encode()) % 400
    return [resident_id.make(region, date(1960 + i * 12, 3, 9), base * 2 + i + 1) for i in range(n)]


def entry_draft(
    ref: str = "HH-1",
    *,
    region: str = "341824",
    roster_class: RosterClass | None = RosterClass.DIBAO_A,
    programs: Sequence[Purpose | None] = (Purpose.DIBAO,),
    number: str | None = None,
    last_check: date | None = None,
    hukou: HukouNature | None = HukouNature.RURAL,
    members: Sequence[MemberDraft] | None = None,
    case_ref: str | None = None,
) -> RosterEntryDraft:
    ids = member_ids(ref, region)
    return RosterEntryDraft(
        household_ref=ref,
        region=region,
        programs=tuple(programs),
        roster_class=roster_class,
        authorization_number=number or f"SQ-{ref}",
        case_ref=case_ref or f"CASE-{ref}",
        members=tuple(members)
        if members is not None
        else (
            MemberDraft(IdType.RESIDENT_ID, ids[0], "测试甲", Relation.APPLICANT),
            MemberDraft(IdType.RESIDENT_ID, ids[1], "测试乙", Relation.SPOUSE),
        ),
        hukou=hukou,
        last_check_date=last_check,
    )


def csv_rows(
    ref: str,
    *,
    region: str = "341824",
    roster_class: str = "dibao_a",
    programs: str = "dibao",
    last_check: str = "",
) -> list[str]:
    """One household's two member rows in the CSV format of docs/roster.md."""
    ids = member_ids(ref, region)
    head = f"{ref},{region},{roster_class},{programs},SQ-{ref},CASE-{ref},rural,{last_check}"
    return [
        f"{head},resident_id,{ids[0]},测试甲,applicant,0,false",
        f",,,,,,,,resident_id,{ids[1]},测试乙,spouse,,",
    ]
