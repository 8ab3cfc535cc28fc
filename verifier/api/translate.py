"""proto ⇄ domain. The only place (with the servicers) that knows the generated code."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2
from hedui.v1 import common_pb2 as common
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import AssetCategory, IdType, IncomeCategory, SourceKind
from verifier.api.evidence_pb import envelope_evidence
from verifier.domain.errors import FieldViolation
from verifier.domain.household import (
    MAX_DECLARED_ASSETS,
    MAX_DEDUCTIONS,
    MAX_MEMBERS,
    DeclarationDraft,
    DeductionDraft,
    DeductionKind,
    HukouNature,
    MemberDraft,
    Purpose,
    Relation,
    RequestDraft,
    SupporterStatus,
)
from verifier.domain.identifiers import check_timestamp as check_timestamp_fields
from verifier.domain.outcomes import Completeness, SourceStatus, VerificationState
from verifier.domain.ports import OutcomeSummary, StoredReport
from verifier.domain.time_limits import is_overdue
from verifier.service.events import Event, ReportEvent, SourceEvent, StateEvent
from verifier.service.verifications import VerificationView

T = TypeVar("T")

ID_TYPES = {
    common.ID_TYPE_RESIDENT_ID: IdType.RESIDENT_ID,
    common.ID_TYPE_PASSPORT: IdType.PASSPORT,
    common.ID_TYPE_HK_MACAO_PERMIT: IdType.HK_MACAO_PERMIT,
    common.ID_TYPE_TAIWAN_PERMIT: IdType.TAIWAN_PERMIT,
    common.ID_TYPE_FOREIGN_PERMANENT_RESIDENT: IdType.FOREIGN_PERMANENT_RESIDENT,
}
RELATIONS = {
    common.RELATION_APPLICANT: Relation.APPLICANT,
    common.RELATION_SPOUSE: Relation.SPOUSE,
    common.RELATION_CHILD: Relation.CHILD,
    common.RELATION_PARENT: Relation.PARENT,
    common.RELATION_GRANDPARENT: Relation.GRANDPARENT,
    common.RELATION_GRANDCHILD: Relation.GRANDCHILD,
    common.RELATION_SIBLING: Relation.SIBLING,
    common.RELATION_SUPPORTER: Relation.SUPPORTER,
    common.RELATION_OTHER: Relation.OTHER,
}
PURPOSES = {
    common.PURPOSE_DIBAO: Purpose.DIBAO,
    common.PURPOSE_TEKUN: Purpose.TEKUN,
    common.PURPOSE_LINSHI: Purpose.LINSHI,
    common.PURPOSE_DIBAO_BIANYUAN: Purpose.DIBAO_BIANYUAN,
    common.PURPOSE_YINBING_ZHIPIN: Purpose.YINBING_ZHIPIN,
}
SOURCES = {
    common.SOURCE_KIND_HOUSEHOLD_REGISTRATION: SourceKind.HOUSEHOLD_REGISTRATION,
    common.SOURCE_KIND_TAX: SourceKind.TAX,
    common.SOURCE_KIND_SOCIAL_INSURANCE: SourceKind.SOCIAL_INSURANCE,
    common.SOURCE_KIND_REAL_ESTATE: SourceKind.REAL_ESTATE,
    common.SOURCE_KIND_BUSINESS_REGISTRATION: SourceKind.BUSINESS_REGISTRATION,
    common.SOURCE_KIND_PROVIDENT_FUND: SourceKind.PROVIDENT_FUND,
    common.SOURCE_KIND_VEHICLE: SourceKind.VEHICLE,
    common.SOURCE_KIND_BANK: SourceKind.BANK,
    common.SOURCE_KIND_SECURITIES: SourceKind.SECURITIES,
    common.SOURCE_KIND_COMMERCIAL_INSURANCE: SourceKind.COMMERCIAL_INSURANCE,
    common.SOURCE_KIND_INTERNET_FINANCE: SourceKind.INTERNET_FINANCE,
    common.SOURCE_KIND_MEDICAL_INSURANCE: SourceKind.MEDICAL_INSURANCE,
    common.SOURCE_KIND_DISABILITY: SourceKind.DISABILITY,
    common.SOURCE_KIND_EDUCATION: SourceKind.EDUCATION,
    common.SOURCE_KIND_EMPLOYMENT: SourceKind.EMPLOYMENT,
    common.SOURCE_KIND_CIVIL_AFFAIRS: SourceKind.CIVIL_AFFAIRS,
}
HUKOU = {common.HUKOU_NATURE_URBAN: HukouNature.URBAN, common.HUKOU_NATURE_RURAL: HukouNature.RURAL}
INCOME_CATEGORIES = {
    common.INCOME_CATEGORY_WAGES: IncomeCategory.WAGES,
    common.INCOME_CATEGORY_BUSINESS: IncomeCategory.BUSINESS,
    common.INCOME_CATEGORY_PROPERTY: IncomeCategory.PROPERTY,
    common.INCOME_CATEGORY_TRANSFER: IncomeCategory.TRANSFER,
}
ASSET_CATEGORIES = {
    common.ASSET_CATEGORY_DEPOSIT: AssetCategory.DEPOSIT,
    common.ASSET_CATEGORY_SECURITIES: AssetCategory.SECURITIES,
    common.ASSET_CATEGORY_INSURANCE_CASH_VALUE: AssetCategory.INSURANCE_CASH_VALUE,
    common.ASSET_CATEGORY_INTERNET_FINANCE: AssetCategory.INTERNET_FINANCE,
    common.ASSET_CATEGORY_PROVIDENT_FUND: AssetCategory.PROVIDENT_FUND,
    common.ASSET_CATEGORY_VEHICLE: AssetCategory.VEHICLE,
    common.ASSET_CATEGORY_VESSEL: AssetCategory.VESSEL,
    common.ASSET_CATEGORY_REAL_ESTATE: AssetCategory.REAL_ESTATE,
    common.ASSET_CATEGORY_BUSINESS: AssetCategory.BUSINESS,
}
DEDUCTION_KINDS = {
    common.DEDUCTION_KIND_ILLNESS: DeductionKind.ILLNESS,
    common.DEDUCTION_KIND_DISABILITY_CARE: DeductionKind.DISABILITY_CARE,
    common.DEDUCTION_KIND_SCHOOLING: DeductionKind.SCHOOLING,
    common.DEDUCTION_KIND_EMPLOYMENT_COST: DeductionKind.EMPLOYMENT_COST,
}
SUPPORTERS = {
    common.SUPPORTER_STATUS_UNSPECIFIED: SupporterStatus.UNKNOWN,
    common.SUPPORTER_STATUS_NONE: SupporterStatus.NONE,
    common.SUPPORTER_STATUS_INCAPABLE: SupporterStatus.INCAPABLE,
    common.SUPPORTER_STATUS_CAPABLE: SupporterStatus.CAPABLE,
}
WORK_CAPACITY = {common.WORK_CAPACITY_ABLE: True, common.WORK_CAPACITY_UNABLE: False}
SOURCES_TO_PB = {v: k for k, v in SOURCES.items()}
HUKOU_TO_PB = {v: k for k, v in HUKOU.items()}
INCOME_CATEGORIES_TO_PB = {v: k for k, v in INCOME_CATEGORIES.items()}
ASSET_CATEGORIES_TO_PB = {v: k for k, v in ASSET_CATEGORIES.items()}
DEDUCTION_KINDS_TO_PB = {v: k for k, v in DEDUCTION_KINDS.items()}
SUPPORTERS_TO_PB = {v: k for k, v in SUPPORTERS.items()}
ID_TYPES_TO_PB = {v: k for k, v in ID_TYPES.items()}
RELATIONS_TO_PB = {v: k for k, v in RELATIONS.items()}
PURPOSES_TO_PB = {v: k for k, v in PURPOSES.items()}
STATUS_TO_PB = {
    SourceStatus.PENDING: common.SOURCE_STATUS_PENDING,
    SourceStatus.FOUND: common.SOURCE_STATUS_FOUND,
    SourceStatus.NOT_FOUND: common.SOURCE_STATUS_NOT_FOUND,
    SourceStatus.FAILED: common.SOURCE_STATUS_FAILED,
    SourceStatus.DENIED: common.SOURCE_STATUS_DENIED,
}
STATE_TO_PB = {
    VerificationState.RUNNING: pb.VERIFICATION_STATE_RUNNING,
    VerificationState.AWAITING_SOURCES: pb.VERIFICATION_STATE_AWAITING_SOURCES,
    VerificationState.DONE: pb.VERIFICATION_STATE_DONE,
}
COMPLETENESS_TO_PB = {
    Completeness.COMPLETE: pb.COMPLETENESS_COMPLETE,
    Completeness.PARTIAL: pb.COMPLETENESS_PARTIAL,
}


def capped(items: Sequence[T], cap: int, field: str, out: list[FieldViolation]) -> Sequence[T]:
    """At most ``cap`` entries of a repeated field; a longer one is named in ``out`` and
    only its first ``cap`` entries are translated — a 4 MiB request holds a million
    members, and turning each into a draft took seconds."""
    if len(items) <= cap:
        return items
    out.append(FieldViolation(field, f"must have at most {cap} entries, got {len(items)}"))
    return items[:cap]


def _circumstance_violations(members: Sequence[pb.Member], out: list[FieldViolation]) -> None:
    """Enum numbers the draft cannot carry: these fields default to "not established",
    so an unknown number would otherwise pass as if it were unset."""
    for i, m in enumerate(members):
        path = f"household.members[{i}].circumstances"
        if m.circumstances.work_capacity not in common.WorkCapacity.values():
            out.append(FieldViolation(f"{path}.work_capacity", "must be a known work capacity"))
        if m.circumstances.supporter not in SUPPORTERS:
            out.append(FieldViolation(f"{path}.supporter", "must be a known supporter status"))


def draft_from_pb(req: pb.CreateVerificationRequest) -> RequestDraft:
    """Unknown or unset enum values become ``None``; validation names them."""
    wire: list[FieldViolation] = []
    members = capped(req.household.members, MAX_MEMBERS, "household.members", wire)
    purposes = capped(req.purposes, len(Purpose), "purposes", wire)
    sources = capped(req.sources, len(SourceKind), "sources", wire)
    programs = capped(req.current_programs, len(Purpose), "current_programs", wire)
    deductions = capped(req.deductions, MAX_DEDUCTIONS, "deductions", wire)
    decl = req.declaration
    incomes = capped(decl.incomes, len(IncomeCategory), "declaration.incomes", wire)
    assets = capped(decl.assets, MAX_DECLARED_ASSETS, "declaration.assets", wire)
    _circumstance_violations(members, wire)
    return RequestDraft(
        request_id=req.request_id,
        case_id=req.case_id,
        authorization_id=req.authorization_id,
        purposes=tuple(PURPOSES.get(p) for p in purposes),
        region=req.household.region_code,
        members=tuple(
            MemberDraft(
                id_type=ID_TYPES.get(m.id_type),
                id_number=m.id_number,
                name=m.name,
                relation=RELATIONS.get(m.relation),
                disability_grade=m.circumstances.disability_grade,
                serious_illness=m.circumstances.serious_illness,
                in_school=m.circumstances.in_school,
                able_to_work=WORK_CAPACITY.get(m.circumstances.work_capacity),
                supporter=SUPPORTERS.get(m.circumstances.supporter, SupporterStatus.UNKNOWN),
                hukou_region=m.hukou_region_code,
            )
            for m in members
        ),
        sources=tuple(SOURCES.get(s) for s in sources),
        window_start=date_text(req.window, "start_date"),
        window_end=date_text(req.window, "end_date"),
        hukou=HUKOU.get(req.hukou_nature),
        declaration=DeclarationDraft(
            incomes=tuple((INCOME_CATEGORIES.get(i.category), i.monthly_fen) for i in incomes),
            assets=tuple((ASSET_CATEGORIES.get(a.category), a.value_fen, a.count) for a in assets),
            member_count=decl.member_count,
        )
        if req.HasField("declaration")
        else None,
        deductions=tuple(
            DeductionDraft(
                kind=DEDUCTION_KINDS.get(d.kind),
                amount_fen=d.amount_fen,
                evidence_ref=d.evidence_ref,
                member_index=d.member_index if d.HasField("member_index") else None,
            )
            for d in deductions
        ),
        current_programs=tuple(PURPOSES.get(p) for p in programs),
        wire_violations=tuple(wire),
    )


def date_text(msg: Message, field: str) -> str:
    """A google.type.Date field as the domain's YYYY-MM-DD text ("" when unset). A
    partial or impossible date becomes text the domain's date check refuses, naming the
    field; nothing is guessed or completed here."""
    if not msg.HasField(field):
        return ""
    d: date_pb2.Date = getattr(msg, field)
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def check_timestamp(ts: Timestamp, field: str, out: list[FieldViolation]) -> None:
    """A set timestamp within google.protobuf.Timestamp's range (years 0001 to 9999)."""
    check_timestamp_fields(ts.seconds, ts.nanos, field, out)


def timestamp(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts


def _progress(o: OutcomeSummary) -> pb.SourceProgress:
    return pb.SourceProgress(
        member_index=o.member_index,
        source=SOURCES_TO_PB[SourceKind(o.source)],
        status=STATUS_TO_PB[SourceStatus(o.status)],
        reason=o.reason,
        deployment=o.deployment,
    )


def verification_pb(view: VerificationView, now: datetime | None = None) -> pb.Verification:
    """The view as the wire shows it; ``overdue`` is judged at ``now`` (default: now)."""
    r = view.record
    t = view.terms
    out = pb.Verification(
        verification_id=r.id,
        case_id=r.case_id,
        request_id=r.request_id,
        state=STATE_TO_PB[r.state],
        create_time=timestamp(r.created_at),
        progress=[_progress(o) for o in view.progress],
        latest_report_version=r.latest_version,
        completeness=COMPLETENESS_TO_PB[r.completeness]
        if r.completeness
        else pb.COMPLETENESS_UNSPECIFIED,
        region_code=r.region,
    )
    if t is not None:
        out.urgent = t.urgent
        out.batch_id = t.batch_id or ""
        if t.due_date is not None:
            d = t.due_date
            out.due_date.CopyFrom(date_pb2.Date(year=d.year, month=d.month, day=d.day))
        out.overdue = is_overdue(t.due_at, r.state, now or datetime.now(UTC))
    return out


def event_pb(vid: str, event: Event) -> pb.WatchVerificationResponse:
    out = pb.WatchVerificationResponse(verification_id=vid, event_time=timestamp(event.at))
    if isinstance(event, SourceEvent):
        out.source_progress.CopyFrom(
            pb.SourceProgress(
                member_index=event.member_index,
                source=SOURCES_TO_PB[SourceKind(event.source)],
                status=STATUS_TO_PB[event.status],
                reason=event.reason,
            )
        )
    elif isinstance(event, ReportEvent):
        out.report_issued.CopyFrom(
            pb.ReportIssued(
                version=event.version,
                completeness=COMPLETENESS_TO_PB[event.completeness],
                envelope_sha256=event.envelope_sha256,
            )
        )
    elif isinstance(event, StateEvent):
        out.state_changed = STATE_TO_PB[event.state]
    return out


def report_pb(report: StoredReport) -> pb.GetReportResponse:
    s = json.loads(report.summary_json)
    sources: Sequence[dict[str, object]] = s["sources"]
    return pb.GetReportResponse(
        envelope=report.envelope,
        summary=pb.ReportSummary(
            report_id=report.report_id,
            version=report.version,
            completeness=COMPLETENESS_TO_PB[report.completeness],
            region_code=s["region"],
            member_count=s["member_count"],
            sources=[
                pb.MemberSourceSummary(
                    member_index=int(str(x["member_index"])),
                    source=SOURCES_TO_PB[SourceKind(str(x["source"]))],
                    status=STATUS_TO_PB[SourceStatus(str(x["status"]))],
                    record_count=int(str(x["record_count"])),
                )
                for x in sources
            ],
            total_income_fen=s["total_income_fen"],
            total_assets_fen=s["total_assets_fen"],
            key_id=report.signing_key_id,
            release_audit_seq=report.release_seq,
            evidence=envelope_evidence(report.envelope),
        ),
    )
