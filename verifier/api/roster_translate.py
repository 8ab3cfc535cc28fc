"""Roster proto ⇄ domain. A roster entry's household is a check's: it is translated by
the same code as ``CreateVerification`` (``translate.draft_from_pb``), so the two can
never accept different members."""

from __future__ import annotations

from hedui.v1 import common_pb2 as common
from hedui.v1 import roster_pb2 as pb
from hedui.v1 import verification_pb2 as vpb

from hedui_sdk import mask_id_number, mask_name
from verifier.api.fields import date_pb, enum_from_pb, optional_date
from verifier.api.translate import (
    ASSET_CATEGORIES_TO_PB,
    HUKOU_TO_PB,
    ID_TYPES_TO_PB,
    INCOME_CATEGORIES_TO_PB,
    PURPOSES,
    PURPOSES_TO_PB,
    RELATIONS_TO_PB,
    SUPPORTERS_TO_PB,
    draft_from_pb,
    timestamp,
)
from verifier.domain.errors import FieldViolation
from verifier.domain.household import Declaration, Member
from verifier.domain.roster import (
    CheckOutcome,
    RecheckState,
    RosterClass,
    RosterEntryDraft,
    entry_field,
)
from verifier.service.roster.entries import ImportResult, RosterFilter, RosterView

__all__ = [
    "CLASSES",
    "CLASSES_TO_PB",
    "date_pb",
    "entry_draft_from_pb",
    "entry_pb",
    "filter_from_pb",
    "import_response",
]

CLASSES = {
    pb.ROSTER_CLASS_DIBAO_A: RosterClass.DIBAO_A,
    pb.ROSTER_CLASS_DIBAO_B: RosterClass.DIBAO_B,
    pb.ROSTER_CLASS_DIBAO_C: RosterClass.DIBAO_C,
    pb.ROSTER_CLASS_TEKUN: RosterClass.TEKUN,
    pb.ROSTER_CLASS_DIBAO_BIANYUAN: RosterClass.DIBAO_BIANYUAN,
    pb.ROSTER_CLASS_LINSHI: RosterClass.LINSHI,
    pb.ROSTER_CLASS_YINBING_ZHIPIN: RosterClass.YINBING_ZHIPIN,
}
CLASSES_TO_PB = {v: k for k, v in CLASSES.items()}
STATES_TO_PB = {
    RecheckState.NOT_DUE: pb.RECHECK_STATE_NOT_DUE,
    RecheckState.DUE: pb.RECHECK_STATE_DUE,
    RecheckState.RUNNING: pb.RECHECK_STATE_RUNNING,
    RecheckState.REAUTHORIZATION_NEEDED: pb.RECHECK_STATE_REAUTHORIZATION_NEEDED,
    RecheckState.NO_CYCLE: pb.RECHECK_STATE_NO_CYCLE,
    RecheckState.FAILED: pb.RECHECK_STATE_FAILED,
}
OUTCOMES_TO_PB = {
    CheckOutcome.COMPLETE: pb.CHECK_OUTCOME_COMPLETE,
    CheckOutcome.PARTIAL: pb.CHECK_OUTCOME_PARTIAL,
    CheckOutcome.RECORDED: pb.CHECK_OUTCOME_RECORDED,
}


def entry_draft_from_pb(e: pb.RosterEntry) -> RosterEntryDraft:
    """Unknown or unset enum values become ``None``; validation names them. Output-only
    fields are ignored (AIP-203)."""
    request = vpb.CreateVerificationRequest(
        purposes=e.programs,
        household=vpb.Household(region_code=e.region_code, members=e.members),
        hukou_nature=e.hukou_nature,
    )
    if e.HasField("declaration"):
        request.declaration.CopyFrom(e.declaration)
    d = draft_from_pb(request)
    wire = [FieldViolation(entry_field(v.field), v.description) for v in d.wire_violations]
    roster_class = enum_from_pb(e.roster_class, CLASSES, "roster_class", "class", wire)
    last = optional_date(e, "last_check_date", wire)
    return RosterEntryDraft(
        household_ref=e.household_ref,
        region=e.region_code,
        programs=d.purposes,
        roster_class=roster_class,
        authorization_number=e.authorization_number,
        case_ref=e.case_ref,
        members=d.members,
        hukou=d.hukou,
        declaration=d.declaration,
        last_check_date=last,
        wire_violations=tuple(wire),
    )


def _member_pb(m: Member) -> vpb.Member:
    c = m.circumstances
    return vpb.Member(
        id_type=ID_TYPES_TO_PB[m.subject.id_type],
        id_number=mask_id_number(m.subject.id_number),
        name=mask_name(m.subject.name),
        relation=RELATIONS_TO_PB[m.relation],
        circumstances=vpb.MemberCircumstances(
            disability_grade=c.disability_grade or 0,
            serious_illness=c.serious_illness,
            in_school=c.in_school,
            work_capacity=common.WORK_CAPACITY_UNSPECIFIED
            if c.able_to_work is None
            else (common.WORK_CAPACITY_ABLE if c.able_to_work else common.WORK_CAPACITY_UNABLE),
            supporter=SUPPORTERS_TO_PB[c.supporter],
        ),
    )


def _declaration_pb(d: Declaration) -> vpb.Declaration:
    return vpb.Declaration(
        incomes=[
            vpb.DeclaredIncome(category=INCOME_CATEGORIES_TO_PB[c], monthly_fen=f)
            for c, f in d.monthly_income_fen
        ],
        assets=[
            vpb.DeclaredAsset(
                category=ASSET_CATEGORIES_TO_PB[a.category], value_fen=a.value_fen, count=a.count
            )
            for a in d.assets
        ],
        member_count=d.member_count or 0,
    )


def entry_pb(view: RosterView, *, household: bool = False) -> pb.RosterEntry:
    """An entry for the wire; with ``household``, its members masked and declaration."""
    r = view.record
    out = pb.RosterEntry(
        household_ref=r.household_ref,
        region_code=r.region,
        programs=[PURPOSES_TO_PB[p] for p in r.programs],
        roster_class=CLASSES_TO_PB[r.roster_class],
        authorization_number=r.authorization_number,
        case_ref=r.case_ref,
        hukou_nature=HUKOU_TO_PB[r.hukou],
        recheck_state=STATES_TO_PB[view.state],
        overdue=view.overdue,
        member_count=r.member_count,
        recheck_reason=r.job_reason,
        create_time=timestamp(r.created_at),
        update_time=timestamp(r.updated_at),
    )
    if r.imported_check is not None:
        out.last_check_date.CopyFrom(date_pb(r.imported_check))
    last = r.last_check
    if last is not None:
        out.last_check.CopyFrom(
            pb.LastCheck(
                verification_id=last.verification_id,
                check_date=date_pb(last.check_date),
                outcome=OUTCOMES_TO_PB[last.outcome],
            )
        )
        if last.check_time is not None:
            out.last_check.check_time.CopyFrom(timestamp(last.check_time))
    s = r.schedule
    if s.next_due is not None:
        out.next_due_date.CopyFrom(date_pb(s.next_due))
    if s.cycle is not None:
        out.cycle.CopyFrom(
            pb.RecheckCycle(
                months=s.cycle.months, reference=s.cycle.reference, example=s.cycle.example
            )
        )
    if household:
        out.members.extend(_member_pb(m) for m in view.members)
        if view.declaration is not None:
            out.declaration.CopyFrom(_declaration_pb(view.declaration))
    return out


def filter_from_pb(req: pb.ListRosterEntriesRequest) -> RosterFilter:
    out: list[FieldViolation] = []
    program = enum_from_pb(req.program, PURPOSES, "program", "program", out)
    roster_class = enum_from_pb(req.roster_class, CLASSES, "roster_class", "class", out)
    due = optional_date(req, "due_before", out)
    return RosterFilter(
        region=req.region_code,
        program=program,
        roster_class=roster_class,
        due_before=due,
        overdue=req.overdue,
        page_size=req.page_size,
        page_token=req.page_token,
        violations=tuple(out),
    )


def import_response(result: ImportResult) -> pb.ImportRosterResponse:
    return pb.ImportRosterResponse(
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        without_cycle=result.without_cycle,
        rejected=[
            pb.RejectedEntry(
                index=i,
                violations=[
                    pb.EntryViolation(field=v.field, description=v.description) for v in vs
                ],
            )
            for i, vs in result.rejected
        ],
    )
