"""ConsentService: the 授权书 registry over gRPC. Outputs mask ID numbers and names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from hedui.v1 import consent_pb2 as pb
from hedui.v1 import consent_pb2_grpc

from hedui_sdk import SourceKind, mask_id_number, mask_name
from verifier.api.fields import date_pb
from verifier.api.translate import (
    ID_TYPES,
    ID_TYPES_TO_PB,
    PURPOSES,
    PURPOSES_TO_PB,
    RELATIONS,
    RELATIONS_TO_PB,
    SOURCES,
    SOURCES_TO_PB,
    capped,
    date_text,
    timestamp,
)
from verifier.domain import identifiers as ids
from verifier.domain.consent import (
    MAX_SUBJECTS,
    ConsentDraft,
    ConsentState,
    SignatoryDraft,
    SignatoryRole,
    SubjectDraft,
)
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.household import Purpose
from verifier.domain.ports import Caller
from verifier.service.consents import ConsentService, ConsentView

Identify = Callable[[grpc.aio.ServicerContext[Any, Any]], Caller]

ROLES = {
    pb.SIGNATORY_ROLE_SELF: SignatoryRole.SELF,
    pb.SIGNATORY_ROLE_GUARDIAN: SignatoryRole.GUARDIAN,
}
ROLES_TO_PB = {v: k for k, v in ROLES.items()}
REVOKE_REASON_MAX = 256
STATES_TO_PB = {
    ConsentState.ACTIVE: pb.CONSENT_STATE_ACTIVE,
    ConsentState.REVOKED: pb.CONSENT_STATE_REVOKED,
    ConsentState.EXPIRED: pb.CONSENT_STATE_EXPIRED,
    ConsentState.SUPERSEDED: pb.CONSENT_STATE_SUPERSEDED,
}


def draft_from_pb(c: pb.Consent) -> ConsentDraft:
    wire: list[FieldViolation] = []
    subjects = capped(c.subjects, MAX_SUBJECTS, "subjects", wire)
    signatories = capped(c.signatories, MAX_SUBJECTS, "signatories", wire)
    sources = capped(c.sources, len(SourceKind), "sources", wire)
    purposes = capped(c.purposes, len(Purpose), "purposes", wire)
    return ConsentDraft(
        number=c.number,
        region=c.region_code,
        subjects=tuple(
            SubjectDraft(ID_TYPES.get(s.id_type), s.id_number, s.name, RELATIONS.get(s.relation))
            for s in subjects
        ),
        signatories=tuple(
            SignatoryDraft(
                ID_TYPES.get(g.id_type),
                g.id_number,
                g.name,
                ROLES.get(g.role),
                tuple(capped(g.signs_for, MAX_SUBJECTS, f"signatories[{i}].signs_for", wire)),
            )
            for i, g in enumerate(signatories)
        ),
        sources=tuple(SOURCES.get(k) for k in sources),
        purposes=tuple(PURPOSES.get(p) for p in purposes),
        valid_from=date_text(c, "valid_from"),
        valid_until=date_text(c, "valid_until"),
        evidence_sha256=c.evidence_sha256,
        evidence_location=c.evidence_location,
        wire_violations=tuple(wire),
    )


def consent_pb(v: ConsentView) -> pb.Consent:
    d = v.doc
    return pb.Consent(
        number=d.number,
        region_code=d.region,
        subjects=[
            pb.ConsentSubject(
                id_type=ID_TYPES_TO_PB[s.subject.id_type],
                id_number=mask_id_number(s.subject.id_number),
                name=mask_name(s.subject.name),
                relation=RELATIONS_TO_PB[s.relation],
            )
            for s in d.subjects
        ],
        signatories=[
            pb.Signatory(
                id_type=ID_TYPES_TO_PB[g.subject.id_type],
                id_number=mask_id_number(g.subject.id_number),
                name=mask_name(g.subject.name),
                role=ROLES_TO_PB[g.role],
                signs_for=list(g.signs_for),
            )
            for g in d.signatories
        ],
        sources=[SOURCES_TO_PB[k] for k in d.sources],
        purposes=[PURPOSES_TO_PB[p] for p in d.purposes],
        valid_from=date_pb(d.valid_from),
        valid_until=date_pb(d.valid_until) if d.valid_until else None,
        evidence_sha256=d.evidence_sha256,
        evidence_location=d.evidence_location,
        state=STATES_TO_PB[v.state],
        history=[
            pb.ConsentEvent(
                event_time=timestamp(e.at),
                event=e.event,
                actor_system=e.actor_system,
                actor_user=e.actor_user,
                detail=e.detail,
            )
            for e in v.history
        ],
        superseded_by=v.record.superseded_by,
    )


def _check_revoke(request: pb.RevokeConsentRequest) -> None:
    out: list[FieldViolation] = []
    ids.AUTHORIZATION_NUMBER.check(request.number, "number", out)
    problem = ids.free_text_problem(request.reason, REVOKE_REASON_MAX)
    if problem is not None:
        out.append(FieldViolation("reason", f"must say why: {problem}"))
    if out:
        raise InvalidArgument(out)


class ConsentServicer(consent_pb2_grpc.ConsentServiceServicer):
    def __init__(self, service: ConsentService, identify: Identify) -> None:
        self._service = service
        self._identify = identify

    async def RegisterConsent(
        self, request: pb.RegisterConsentRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.RegisterConsentResponse:
        caller = self._identify(context)
        view, superseded = await self._service.register(caller, draft_from_pb(request.consent))
        return pb.RegisterConsentResponse(consent=consent_pb(view), superseded=superseded)

    async def RevokeConsent(
        self, request: pb.RevokeConsentRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.RevokeConsentResponse:
        caller = self._identify(context)
        _check_revoke(request)
        view = await self._service.revoke(caller, request.number, request.reason.strip(" "))
        return pb.RevokeConsentResponse(consent=consent_pb(view))

    async def GetConsent(
        self, request: pb.GetConsentRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetConsentResponse:
        caller = self._identify(context)
        ids.require(ids.AUTHORIZATION_NUMBER, request.number, "number")
        return pb.GetConsentResponse(
            consent=consent_pb(await self._service.get(caller, request.number))
        )
