"""AlertService: requests checked and translated to the domain, alerts and change
documents translated back. Every format is checked here, before a use case records
anything; an unknown enum number is refused on its field."""

from __future__ import annotations

import json
from datetime import date
from enum import Enum
from typing import TypeVar

from hedui.v1 import alerts_pb2 as pb
from hedui.v1 import common_pb2 as common

from verifier.api.fields import check_page, date_pb, date_range, enum_from_pb, pb_date
from verifier.api.listing_translate import REGION_PREFIX
from verifier.api.translate import ID_TYPES, ID_TYPES_TO_PB, timestamp
from verifier.domain import identifiers as ids
from verifier.domain.alerts import (
    AlertKind,
    AlertState,
    Department,
    ReferralProgram,
    Resolution,
    RiskLevel,
    WarningReason,
    reason_label,
)
from verifier.domain.alerts.warnings import WarningDraft
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.ports import StoredChanges
from verifier.service.monitoring.alerts import PAGE_SIZE_MAX, AlertFilter, AlertView

__all__ = [
    "alert_pb",
    "changes_pb",
    "check_list_changes",
    "filter_from_pb",
    "program_from_pb",
    "resolution_from_pb",
    "warning_from_pb",
]

E = TypeVar("E", bound=Enum)

KINDS = {
    pb.ALERT_KIND_CHANGE: AlertKind.CHANGE,
    pb.ALERT_KIND_WARNING: AlertKind.WARNING,
    pb.ALERT_KIND_REAUTHORIZATION: AlertKind.REAUTHORIZATION,
    pb.ALERT_KIND_OUTREACH: AlertKind.OUTREACH,
}
STATES = {
    pb.ALERT_STATE_OPEN: AlertState.OPEN,
    pb.ALERT_STATE_ACKNOWLEDGED: AlertState.ACKNOWLEDGED,
    pb.ALERT_STATE_RESOLVED: AlertState.RESOLVED,
}
RISKS = {
    pb.RISK_LEVEL_HIGH: RiskLevel.HIGH,
    pb.RISK_LEVEL_MEDIUM: RiskLevel.MEDIUM,
    pb.RISK_LEVEL_LOW: RiskLevel.LOW,
}
RESOLUTIONS = {
    pb.RESOLUTION_CONFIRMED: Resolution.CONFIRMED,
    pb.RESOLUTION_NO_CHANGE: Resolution.NO_CHANGE,
    pb.RESOLUTION_REFERRED: Resolution.REFERRED,
}
PROGRAMS = {getattr(pb, f"REFERRAL_PROGRAM_{p.name}"): p for p in ReferralProgram}
DEPARTMENTS = {getattr(pb, f"WARNING_DEPARTMENT_{d.name}"): d for d in Department}
WARNING_REASONS = {getattr(pb, f"WARNING_REASON_{r.name}"): r for r in WarningReason}
KINDS_TO_PB = {v: k for k, v in KINDS.items()}
STATES_TO_PB = {v: k for k, v in STATES.items()}
RISKS_TO_PB = {v: k for k, v in RISKS.items()}
RESOLUTIONS_TO_PB = {v: k for k, v in RESOLUTIONS.items()}
PROGRAMS_TO_PB = {v: k for k, v in PROGRAMS.items()}


def filter_from_pb(req: pb.ListAlertsRequest) -> AlertFilter:
    out: list[FieldViolation] = []
    check_page(req.page_size, req.page_token, PAGE_SIZE_MAX, out)
    if req.region_prefix and not REGION_PREFIX.fullmatch(req.region_prefix):
        out.append(
            FieldViolation("region_prefix", "must be a GB/T 2260 code or prefix (2, 4 or 6 digits)")
        )
    state = enum_from_pb(req.state, STATES, "state", "alert state", out)
    risk = enum_from_pb(req.risk_level, RISKS, "risk_level", "risk level", out)
    kind = enum_from_pb(req.kind, KINDS, "kind", "alert kind", out)
    ids.ACTOR_USER.optional(req.owner, "owner", out)
    ids.SHA256_HEX.optional(req.household_ref, "household_ref", out)
    start, end = date_range(req, "created_from", "created_to", out)
    if out:
        raise InvalidArgument(out)
    return AlertFilter(
        region_prefix=req.region_prefix,
        kind=kind,
        state=state,
        risk_level=risk,
        owner=req.owner,
        household_ref=req.household_ref,
        overdue=req.overdue if req.HasField("overdue") else None,
        created_from=start,
        created_to=end,
    )


def check_list_changes(req: pb.ListChangesRequest) -> None:
    out: list[FieldViolation] = []
    check_page(req.page_size, req.page_token, PAGE_SIZE_MAX, out)
    ids.SHA256_HEX.optional(req.household_ref, "household_ref", out)
    ids.VERIFICATION_ID.optional(req.verification_id, "verification_id", out)
    if out:
        raise InvalidArgument(out)


def resolution_from_pb(
    req: pb.ResolveAlertRequest,
) -> tuple[Resolution | None, ReferralProgram | None]:
    """The outcome and program; unknown numbers refused (their presence rules are the
    use case's)."""
    out: list[FieldViolation] = []
    resolution = enum_from_pb(req.resolution, RESOLUTIONS, "resolution", "resolution", out)
    program = program_from_pb(req.program, out)
    if out:
        raise InvalidArgument(out)
    return resolution, program


def program_from_pb(value: int, out: list[FieldViolation]) -> ReferralProgram | None:
    return enum_from_pb(value, PROGRAMS, "program", "referral program", out)


def warning_from_pb(w: pb.ExternalWarning) -> WarningDraft:
    """A warning as received: unknown enum numbers and partial dates are reported on the
    warning's own fields (the use case prefixes ``warnings[i].``)."""
    wire: list[FieldViolation] = []
    id_type = enum_from_pb(w.id_type, ID_TYPES, "id_type", "ID type", wire)
    if w.id_type == common.ID_TYPE_UNSPECIFIED:
        id_type = None
    department = enum_from_pb(w.department, DEPARTMENTS, "department", "department", wire)
    reason = enum_from_pb(w.reason, WARNING_REASONS, "reason", "warning reason", wire)
    day: date | None = None
    if w.HasField("warning_date"):
        day = pb_date(w.warning_date, "warning_date", wire)
    return WarningDraft(
        id_type=id_type,
        id_number=w.id_number,
        name=w.name,
        department=department,
        reason=reason,
        warning_date=day,
        region=w.region_code,
        warning_id=w.warning_id,
        wire_violations=tuple(wire),
    )


def alert_pb(view: AlertView) -> pb.Alert:
    a = view.alert
    msg = pb.Alert(
        alert_id=a.id,
        kind=KINDS_TO_PB[a.kind],
        reason=a.reason,
        reason_label=reason_label(a.reason),
        region_code=a.region,
        risk_level=RISKS_TO_PB[a.risk_level],
        state=STATES_TO_PB[a.state],
        overdue=view.overdue,
        owner=a.owner,
        household_ref=a.household_ref,
        subject_ref=a.subject_ref,
        verification_id=a.verification_id,
        report_version=a.report_version,
        create_time=timestamp(a.created_at),
        update_time=timestamp(a.updated_at),
        details_json=json.dumps(dict(a.details), ensure_ascii=False, sort_keys=True),
        history=[
            pb.AlertEvent(
                event_time=timestamp(e.at),
                event=e.event,
                actor_system=e.actor_system,
                actor_user=e.actor_user,
                detail=e.detail,
            )
            for e in view.history
        ],
    )
    if a.act_by is not None and a.deadline is not None:
        msg.act_by_date.CopyFrom(date_pb(a.act_by))
        msg.deadline_time.CopyFrom(timestamp(a.deadline))
    if a.resolution is not None:
        msg.resolution = RESOLUTIONS_TO_PB[a.resolution]
    if a.referred_program is not None:
        msg.referred_program = PROGRAMS_TO_PB[a.referred_program]
    if a.overdue_marked_at is not None:
        msg.overdue_mark_time.CopyFrom(timestamp(a.overdue_marked_at))
    if view.person is not None:
        p = view.person
        msg.person.CopyFrom(
            pb.WarnedPerson(
                id_type=ID_TYPES_TO_PB[p.id_type],
                id_number_masked=p.id_number_masked,
                name_masked=p.name_masked,
            )
        )
    return msg


def changes_pb(c: StoredChanges) -> pb.ChangeDocument:
    return pb.ChangeDocument(
        verification_id=c.verification_id,
        version=c.version,
        region_code=c.region,
        household_ref=c.household_ref,
        previous_verification_id=c.previous_verification_id,
        previous_version=c.previous_version,
        previous_envelope_sha256=c.previous_sha256,
        current_envelope_sha256=c.current_sha256,
        envelope=c.envelope,
        envelope_sha256=c.envelope_sha256,
        key_id=c.key_id,
        codes=list(c.codes),
        household_figures_compared=c.household_figures_compared,
        withheld=c.withheld,
        create_time=timestamp(c.created_at),
        record_seq=c.record_seq,
    )
