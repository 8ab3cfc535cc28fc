"""A 协查 (cross-region check request) as the answering deployment judges it: does the
agreement with the requester, and the 授权书 the requester holds, cover what is asked?

The requester sends the 授权书's number, scope (purposes, sources, validity), which of
the asked members signed it (by index: their identities are already in the request), and
the SHA-256 of its signed evidence. The answering deployment refuses, with one reason,
anything either does not cover; the reason is audited and returned, never a partial
answer (:func:`refusal`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from hedui_sdk import SourceKind, Subject, Window
from verifier.domain.peers import PeerConfig
from verifier.domain.request_model import Purpose

MAX_ASK_MEMBERS = 20


class AskRefusal(StrEnum):
    """Why a 协查 is refused (ErrorInfo reasons of PERMISSION_DENIED)."""

    REGION_NOT_SERVED = "FEDERATION_REGION_NOT_SERVED"
    """The ask's region is not one this deployment serves (``[federation] regions``)."""
    PURPOSE_NOT_AGREED = "FEDERATION_PURPOSE_NOT_AGREED"
    """A purpose the agreement with the requester does not allow."""
    SOURCE_NOT_AGREED = "FEDERATION_SOURCE_NOT_AGREED"
    """A source the agreement does not let the requester have checked."""
    PURPOSE_NOT_AUTHORIZED = "FEDERATION_PURPOSE_NOT_AUTHORIZED"
    """A purpose outside the 授权书's scope."""
    SOURCE_NOT_AUTHORIZED = "FEDERATION_SOURCE_NOT_AUTHORIZED"
    """A source outside the 授权书's scope."""
    MEMBER_NOT_SIGNATORY = "FEDERATION_MEMBER_NOT_SIGNATORY"
    """An asked member who did not sign the 授权书 (nor was signed for)."""
    AUTHORIZATION_NOT_VALID = "FEDERATION_AUTHORIZATION_NOT_VALID"
    """The 授权书 is not valid today (not yet, or no longer)."""


@dataclass(frozen=True, slots=True)
class AskAuthorization:
    """The 授权书 a 协查 is made under, as the requester registered it."""

    number: str
    purposes: tuple[Purpose, ...]
    sources: tuple[SourceKind, ...]
    valid_from: date
    valid_until: date | None
    signed_for: tuple[int, ...]
    """Indices of the asked members the 授权书's signatories sign for."""
    evidence_sha256: str


@dataclass(frozen=True, slots=True)
class FederationAsk:
    """A validated 协查."""

    requester: str
    """The requesting deployment, from its client certificate."""
    request_id: str
    """The requester's id of this 协查; a retry with the same id gets the same answer."""
    members: tuple[Subject, ...]
    purposes: tuple[Purpose, ...]
    sources: tuple[SourceKind, ...]
    authorization: AskAuthorization
    region: str
    """The region (6 digits) the members' 户籍 is in, one the answering deployment serves."""
    window: Window
    """The assessment window the sources answer for."""


def refusal(
    agreement: PeerConfig, ask: FederationAsk, today: date, served: Collection[str]
) -> AskRefusal | None:
    """The first thing the agreement or the 授权书 does not cover, or None (the answering
    deployment's check: ``agreement`` is the one with the requester, ``served`` the
    regions this deployment serves). An ask for a region served elsewhere is refused
    first: its members' 户籍 is not here. An ask naming no purpose or no source is
    refused: nothing was agreed for it, and an empty list must never be read as "all"."""
    if ask.region not in served:
        return AskRefusal.REGION_NOT_SERVED
    if not ask.purposes or any(p not in agreement.purposes for p in ask.purposes):
        return AskRefusal.PURPOSE_NOT_AGREED
    if not ask.sources or any(s not in agreement.sources for s in ask.sources):
        return AskRefusal.SOURCE_NOT_AGREED
    return authorization_refusal(ask, today)


def outbound_refusal(agreement: PeerConfig, ask: FederationAsk, today: date) -> AskRefusal | None:
    """The requester's own check before anything leaves: the purposes must be agreed with
    the peer, each source one this deployment may ask it about
    (:meth:`~verifier.domain.peers.PeerConfig.may_ask`), and the 授权书 must cover the
    whole ask; an ask naming no purpose or no source has nothing agreed for it."""
    if not ask.purposes or any(p not in agreement.purposes for p in ask.purposes):
        return AskRefusal.PURPOSE_NOT_AGREED
    if not ask.sources or not all(agreement.may_ask(s) for s in ask.sources):
        return AskRefusal.SOURCE_NOT_AGREED
    return authorization_refusal(ask, today)


def authorization_refusal(ask: FederationAsk, today: date) -> AskRefusal | None:
    """The first thing the 授权书 does not cover, or None."""
    auth = ask.authorization
    if today < auth.valid_from or (auth.valid_until is not None and today > auth.valid_until):
        return AskRefusal.AUTHORIZATION_NOT_VALID
    if any(p not in auth.purposes for p in ask.purposes):
        return AskRefusal.PURPOSE_NOT_AUTHORIZED
    if any(s not in auth.sources for s in ask.sources):
        return AskRefusal.SOURCE_NOT_AUTHORIZED
    if any(i not in auth.signed_for for i in range(len(ask.members))):
        return AskRefusal.MEMBER_NOT_SIGNATORY
    return None
