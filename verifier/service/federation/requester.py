"""A check's 协查: the member × source pairs its routing sends to peers, asked there and
brought back as the check's own outcomes.

Each :class:`~verifier.domain.federation_routing.RemoteAsk` becomes one
:class:`~verifier.domain.federation_ask.FederationAsk` naming only the asked members,
the check's purposes, the ask's sources and the 授权书 the check runs under (its scope,
validity, evidence hash, and which asked members its signatories sign for). The answer's
outcomes are mapped back to the check's member indices and marked with the peer that was
asked (``deployment``) and, when its fragment was accepted, that fragment's SHA-256.

What the requester itself refuses to send (the agreement or the 授权书 does not cover it,
the 授权书 is no longer in force, the peer is not trusted) is DENIED with the reason,
checked again before every retry; a peer that refuses is DENIED too; a peer that does
not answer is FAILED and asked again later (:mod:`verifier.service.federation.retrier`)
under the same request id, so the peer answers it once however often it is asked. A
refused fragment is FAILED with the refusal and not asked again: the peer would replay
the same envelope. An error on this side (the peer's pinned keys no longer published, a
federation file unreadable) fails the asked pairs, to be asked again, never the check.
Nothing is ever NOT_FOUND for want of an answer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog

from hedui_sdk import SourceKind
from verifier.domain.consent import ConsentDoc, ConsentState, signed_subjects
from verifier.domain.errors import (
    FailedPrecondition,
    PermissionDenied,
    Unavailable,
    is_store_failure,
)
from verifier.domain.federation_ask import AskAuthorization, FederationAsk
from verifier.domain.federation_routing import RemoteAsk, Routing, route
from verifier.domain.fragment import EmbeddedFragment, FragmentRefusal
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.domain.peers import FederationConfig
from verifier.domain.ports import Store
from verifier.domain.ports.federation_retries import PeerRetry
from verifier.domain.request_model import member_regions
from verifier.domain.time_limits import CHINA, after_working_days
from verifier.service.federation.outbound import PEER_REJECTED, OutboundAssist

log = structlog.get_logger("hedui.federation")

AUTHORIZATION_UNAVAILABLE = "FEDERATION_AUTHORIZATION_UNAVAILABLE"
"""The 授权书 the check names is not registered here: nothing can be sent under it."""
CONSENT_REVOKED = "CONSENT_REVOKED"
"""The 授权书 was revoked or superseded since the check started (a local check's reason)."""
CONSENT_EXPIRED = "CONSENT_EXPIRED"
"""The 授权书 is not in force today (a local check's reason)."""
PEER_DEADLINE_PASSED = "PEER_DEADLINE_PASSED"
"""The agreement's working days for a 协查 passed without an accepted answer."""
PEER_KEYS_UNAVAILABLE = "PEER_KEYS_UNAVAILABLE"
"""A key the agreement pins is not in the peer's published JWKS (rotated): its answer
could not be checked, so it is not asked until it can be."""
FEDERATION_CONFIG_ERROR = "FEDERATION_CONFIG_ERROR"
"""A file federation needs (the peer's JWKS, this side's client certificate or key)
cannot be read."""
FEDERATION_ASK_FAILED = "FEDERATION_ASK_FAILED"
"""Asking failed on this side for another reason (its type is logged)."""
MIN_ASK_SECONDS = 1.0
"""However little of the check's time is left, a peer gets at least this long."""

_FRAGMENT_REFUSALS = frozenset(r.value for r in FragmentRefusal)

_ASK_IDS = uuid.UUID("6f1d2c64-2f0e-4a55-9a8e-0b6c1c3f7a10")
"""Namespace of the request ids of asks (UUIDv5: one id per check, peer and ask)."""


def ask_request_id(vid: str, ask: RemoteAsk) -> str:
    """The request id of ``ask`` in check ``vid``: the same whenever the check asks it
    (a resumed run, a retry), so the peer answers it once; different for every check,
    peer and ask. Derived, not stored, so a run resumed after a crash asks under the id
    the crashed one may already have used. The sources are named in sorted order, so
    ``hedui report verify`` derives it again from a report (which does not keep the
    order the ask named them in) to tie a fragment to its check."""
    name = f"{vid}/{ask.peer}/{','.join(map(str, ask.members))}/" + ",".join(
        sorted(s.value for s in ask.sources)
    )
    return str(uuid.uuid5(_ASK_IDS, name))


@dataclass(frozen=True, slots=True)
class RemoteAnswer:
    """What one ask gave, in the check's terms."""

    ask: RemoteAsk
    request_id: str
    outcomes: tuple[SourceOutcome, ...]
    """One per asked member × source, with the check's member indices."""
    fragment: EmbeddedFragment | None
    """The peer's accepted fragment holding the outcomes, if one was accepted."""
    again: bool
    """True when the peer did not answer (or this side failed to ask): ask again."""


@dataclass(frozen=True, slots=True)
class RemoteAnswers:
    """All asks of a check: outcomes to release, fragments to keep, asks to retry."""

    outcomes: tuple[SourceOutcome, ...] = ()
    fragments: tuple[EmbeddedFragment, ...] = ()
    retries: tuple[PeerRetry, ...] = ()


def deadline_passed(retry: PeerRetry) -> tuple[SourceOutcome, ...]:
    """The outcomes a check keeps when the peer did not answer by the agreement's deadline."""
    return _every_pair(
        retry.peer, retry.members, retry.sources, SourceStatus.FAILED, PEER_DEADLINE_PASSED
    )


def _every_pair(
    peer: str,
    members: Sequence[int],
    sources: Sequence[SourceKind],
    status: SourceStatus,
    reason: str,
) -> tuple[SourceOutcome, ...]:
    """One outcome per member × source asked of ``peer``, all ``status`` for ``reason``:
    an ask that got no records (refused, failed, or past its deadline)."""
    return tuple(
        SourceOutcome(m, kind, status, "", "", reason=reason, deployment=peer)
        for m in members
        for kind in sources
    )


class FederationRequester:
    """Routes checks and asks peers on their behalf (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        outbound: OutboundAssist,
        federation: FederationConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._outbound = outbound
        self._federation = federation
        self._clock = clock

    @property
    def name(self) -> str:
        """The name peers know this deployment by (the requester its fragments name)."""
        return self._outbound.name

    def routing(self, request: VerificationRequest, kinds: Sequence[SourceKind]) -> Routing:
        """Which member × source pairs of ``request`` are asked where."""
        return route(member_regions(request), kinds, self._federation)

    async def _consent(self, request: VerificationRequest) -> ConsentDoc | str:
        """The 授权书 the check runs under, if it is in force today (in China); otherwise
        why nothing may be sent under it: revoked (or superseded) and expired are the
        reasons a local check gives, so a 授权书 withdrawn after the check started stops
        its asks (and their retries) the way it would stop the check."""
        number = request.authorization_id
        today = self._clock().astimezone(CHINA).date()
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.consents.get(number)
            if record is None:
                return AUTHORIZATION_UNAVAILABLE
            state = record.state_on(today)
            if state in (ConsentState.REVOKED, ConsentState.SUPERSEDED):
                return CONSENT_REVOKED
            if state is ConsentState.EXPIRED or today < record.valid_from:
                return CONSENT_EXPIRED
            try:
                return await uow.consents.load_doc(number)
            except KeyError:
                return AUTHORIZATION_UNAVAILABLE

    async def ask_all(
        self, vid: str, request: VerificationRequest, routing: Routing, deadline: float
    ) -> RemoteAnswers:
        """Every remote ask of ``routing``, concurrently, each within ``deadline`` (a
        ``time.monotonic()`` instant); the retries of those to ask again."""
        if not routing.remote:
            return RemoteAnswers()
        doc = await self._consent(request)
        answers = await asyncio.gather(
            *(
                self.ask(request, doc, ask, ask_request_id(vid, ask), deadline)
                for ask in routing.remote
            )
        )
        now = self._clock()
        return RemoteAnswers(
            outcomes=tuple(o for a in answers for o in a.outcomes),
            fragments=tuple(a.fragment for a in answers if a.fragment is not None),
            retries=tuple(self.first_retry(vid, a, now) for a in answers if a.again),
        )

    async def ask_again(
        self, request: VerificationRequest, retry: PeerRetry, deadline: float
    ) -> RemoteAnswer:
        """Ask a retry's 协查 again, under its own request id."""
        ask = RemoteAsk(retry.peer, retry.members, retry.sources)
        return await self.ask(request, await self._consent(request), ask, retry.ask_request_id,
                              deadline)  # fmt: skip

    def deadline_at(self, peer: str, asked_at: datetime) -> datetime:
        """When a 协查 to ``peer`` first asked at ``asked_at`` is due: the end, in China,
        of the agreement's ``deadline_working_days``-th working day (China's calendar)
        after that day."""
        agreement = self._federation.peers.get(peer)
        days = agreement.deadline_working_days if agreement is not None else 0
        return max(asked_at, after_working_days(asked_at, days).at)

    def first_retry(self, vid: str, answer: RemoteAnswer, now: datetime) -> PeerRetry:
        """The retry of an ask that got no usable answer: due at once (the retrier backs
        off from there), given up after the agreement's working days."""
        return PeerRetry(
            verification_id=vid,
            peer=answer.ask.peer,
            ask_request_id=answer.request_id,
            members=answer.ask.members,
            sources=answer.ask.sources,
            deadline_at=self.deadline_at(answer.ask.peer, now),
            next_at=now + timedelta(seconds=1),
            attempts=1,
        )

    async def ask(
        self,
        request: VerificationRequest,
        doc: ConsentDoc | str,
        remote: RemoteAsk,
        request_id: str,
        deadline: float,
    ) -> RemoteAnswer:
        """One ask under the 授权书 ``doc`` (or, a reason, why none may be sent: every
        pair DENIED with it), its outcomes in the check's member indices."""
        if remote.refusal:
            # The agreement does not let this side ask the peer about these sources:
            # nothing about the members is sent for them.
            return _refused(remote, request_id, remote.refusal)
        if isinstance(doc, str):
            return _refused(remote, request_id, doc)
        ask = self.federation_ask(request, doc, remote, request_id)
        timeout = max(MIN_ASK_SECONDS, deadline - time.monotonic())
        try:
            result = await self._outbound.ask(remote.peer, ask, timeout)
        except PermissionDenied as exc:
            # Refused here, before anything left (agreement, 授权书, trust): DENIED.
            return _refused(remote, request_id, exc.reason)
        except Exception as exc:
            # The database is the check's to fail on (its run is retried). Anything else
            # on this side (the peer's keys, a file, a bug) fails these pairs only, to be
            # asked again: it must not end the check or the other asks.
            if is_store_failure(exc) or isinstance(exc, Unavailable):
                raise
            reason = _failure_reason(exc)
            log.warning("federation_ask_failed", peer=remote.peer, request_id=request_id,
                        reason=reason, error=type(exc).__name__)  # fmt: skip
            return _failed(remote, request_id, reason)
        sha = result.fragment.envelope_sha256 if result.fragment is not None else ""
        outcomes = tuple(
            replace(o, member_index=remote.members[o.member_index], deployment=remote.peer,
                    fragment_sha256=sha)
            for o in result.outcomes
        )  # fmt: skip
        fragment = None
        if result.fragment is not None and result.release_seq is not None:
            fragment = EmbeddedFragment(
                peer=remote.peer,
                key_id=result.fragment.key_id,
                envelope_sha256=sha,
                release_seq=result.release_seq,
                envelope=result.fragment.envelope,
            )
        # An ask the peer rejected as wrong in itself would be rejected again, and a
        # refused fragment would come back the same (the peer replays the envelope it
        # kept for this request id): neither is retried.
        again = fragment is None and any(
            o.status is SourceStatus.FAILED
            and not o.reason.startswith(PEER_REJECTED)
            and o.reason not in _FRAGMENT_REFUSALS
            for o in outcomes
        )
        log.info(
            "federation_asked",
            peer=remote.peer,
            request_id=request_id,
            accepted=fragment is not None,
            again=again,
        )
        return RemoteAnswer(remote, request_id, outcomes, fragment, again)

    def federation_ask(
        self, request: VerificationRequest, doc: ConsentDoc, remote: RemoteAsk, request_id: str
    ) -> FederationAsk:
        """The 协查 for ``remote``: only its members and sources, and the 授权书's scope."""
        members = tuple(request.household.members[i].subject for i in remote.members)
        # Who signed, by the rule the 授权书 was accepted under (a SELF signatory covers
        # the subject of its identity whatever its signs_for lists), then by identity.
        signed = {(s.id_type, s.id_number) for s in signed_subjects(doc)}
        return FederationAsk(
            requester=self._outbound.name,
            request_id=request_id,
            members=members,
            purposes=request.purposes,
            sources=remote.sources,
            authorization=AskAuthorization(
                number=doc.number,
                purposes=doc.purposes,
                # A 授权书 naming no source covers every source: say so for these.
                sources=doc.sources or remote.sources,
                valid_from=doc.valid_from,
                valid_until=doc.valid_until,
                signed_for=tuple(
                    k for k, m in enumerate(members) if (m.id_type, m.id_number) in signed
                ),
                evidence_sha256=doc.evidence_sha256,
            ),
            region=self._region(request, remote),
            window=request.window,
        )

    def _region(self, request: VerificationRequest, remote: RemoteAsk) -> str:
        """The asked members' 户籍 region the peer serves; for a source only the peer has,
        asked about members whose 户籍 is elsewhere, the peer's own first region (the
        peer checks only that it is a region code)."""
        regions = member_regions(request)
        peer = self._federation.peers.get(remote.peer)
        served = peer.regions if peer is not None else ()
        for i in remote.members:
            if regions[i] in served:
                return regions[i]
        return served[0] if served else regions[remote.members[0]]


def _failure_reason(exc: Exception) -> str:
    """The reason an error on this side fails an ask with."""
    if isinstance(exc, FailedPrecondition):
        return PEER_KEYS_UNAVAILABLE  # a pinned key the peer's JWKS no longer publishes
    if isinstance(exc, OSError | ValueError):
        return FEDERATION_CONFIG_ERROR  # a file configured for federation (ConfigError)
    return FEDERATION_ASK_FAILED


def _failed(remote: RemoteAsk, request_id: str, reason: str) -> RemoteAnswer:
    outcomes = _every_pair(remote.peer, remote.members, remote.sources, SourceStatus.FAILED, reason)
    return RemoteAnswer(remote, request_id, outcomes, None, True)


def _refused(remote: RemoteAsk, request_id: str, reason: str) -> RemoteAnswer:
    outcomes = _every_pair(remote.peer, remote.members, remote.sources, SourceStatus.DENIED, reason)
    return RemoteAnswer(remote, request_id, outcomes, None, False)
