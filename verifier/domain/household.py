"""The verification request: who is checked, for what, under which authorization.

Its values are in :mod:`verifier.domain.request_model`, their validation in
:mod:`verifier.domain.request_validation` and their JSON form in
:mod:`verifier.domain.request_json`; every layer imports them from here.
"""

from verifier.domain.request_json import request_from_json, request_to_json
from verifier.domain.request_model import (
    HUKOU_LABELS,
    MAX_DECLARED_ASSETS,
    MAX_DEDUCTIONS,
    MAX_MEMBERS,
    PURPOSE_LABELS,
    Circumstances,
    Declaration,
    DeclarationDraft,
    DeclaredAsset,
    DeductionClaim,
    DeductionDraft,
    DeductionKind,
    Household,
    HukouNature,
    Member,
    MemberDraft,
    Purpose,
    Relation,
    RequestDraft,
    SupporterStatus,
    VerificationRequest,
    member_regions,
)
from verifier.domain.request_validation import default_window, validate_request

__all__ = [
    "HUKOU_LABELS",
    "MAX_DECLARED_ASSETS",
    "MAX_DEDUCTIONS",
    "MAX_MEMBERS",
    "PURPOSE_LABELS",
    "Circumstances",
    "Declaration",
    "DeclarationDraft",
    "DeclaredAsset",
    "DeductionClaim",
    "DeductionDraft",
    "DeductionKind",
    "Household",
    "HukouNature",
    "Member",
    "MemberDraft",
    "Purpose",
    "Relation",
    "RequestDraft",
    "SupporterStatus",
    "VerificationRequest",
    "default_window",
    "member_regions",
    "request_from_json",
    "request_to_json",
    "validate_request",
]
