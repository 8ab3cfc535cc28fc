"""The requesting side of a 协查: ask a trusted peer, accept its answer only as a
fragment signed by a key pinned for it, answering this request, and turn it into
member × source outcomes with the fragment's provenance.

The request is an audit entry committed before it leaves; the answer is another, naming
the peer's release audit seq and the envelope's SHA-256 (accepted), the reason (refused),
or the failure. A peer that refuses makes every asked member × source DENIED with its
reason; a peer that does not answer, one that rejects the ask itself
(``PEER_REJECTED_<gRPC code>``: asking it again cannot help), or a fragment that is
refused, makes them FAILED with the reason — never NOT_FOUND: nothing was learnt about
the members.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from audit.entry import Actor, EntryDraft
from verifier.domain.errors import PermissionDenied
from verifier.domain.federation_ask import FederationAsk, outbound_refusal
from verifier.domain.fragment import FragmentError, peer_reason
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.domain.ports import Store, UnitOfWork
from verifier.domain.ports.peer_client import (
    PeerClient,
    PeerRefused,
    PeerRejected,
    PeerUnavailable,
)
from verifier.domain.pseudonym import subject_ref
from verifier.domain.time_limits import CHINA
from verifier.domain.vocabulary import AuditAction
from verifier.service.federation.peers import PeerTrustService
from verifier.signing.fragments import VerifiedFragment, verify_fragment

PEER_UNAVAILABLE = "PEER_UNAVAILABLE"
PEER_REFUSED = "PEER_REFUSED"
"""The reason recorded when a peer refused with a reason that is not a code."""
PEER_REJECTED = "PEER_REJECTED_"
"""Prefix of the reason of an ask the peer rejected as wrong in itself, followed by the
gRPC code's name (``PEER_REJECTED_INVALID_ARGUMENT``): such an ask is not asked again."""


@dataclass(frozen=True, slots=True)
class FederationResult:
    """What a 协查 gave: one outcome per asked member × source, and the fragment (with
    its provenance) when one was accepted."""

    peer: str
    outcomes: tuple[SourceOutcome, ...]
    fragment: VerifiedFragment | None
    release_seq: int | None


class OutboundAssist:
    def __init__(
        self,
        store: Store,
        trust: PeerTrustService,
        client: PeerClient,
        *,
        name: str,
        pseudonym_key: bytes,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._trust = trust
        self._client = client
        self._name = name
        self._pkey = pseudonym_key
        self._clock = clock

    @property
    def name(self) -> str:
        """The name peers know this deployment by (its client certificate's)."""
        return self._name

    def _entry(
        self, ask: FederationAsk, peer: str, action: AuditAction, outcome: str,
        reason: str = "", **details: object,
    ) -> EntryDraft:  # fmt: skip
        return EntryDraft(
            actor=Actor(system=self._name, role="federation"),
            action=action.value,
            outcome=outcome,
            subject_refs=tuple(
                subject_ref(self._pkey, m.id_type, m.id_number) for m in ask.members
            ),
            reason=reason,
            request_id=ask.request_id,
            details={
                "peer": peer,
                "authorization_number": ask.authorization.number,
                "sources": [s.value for s in ask.sources],
                **details,
            },
        )

    async def _append(self, entry: EntryDraft) -> None:
        async def work(uow: UnitOfWork) -> None:
            await uow.audit.append([entry])

        await self._store.write(work)

    @staticmethod
    def _none(peer: str, ask: FederationAsk, status: SourceStatus, reason: str) -> FederationResult:
        """Every asked member × source ``status`` with ``reason``: nothing was learnt."""
        outcomes = tuple(
            SourceOutcome(i, kind, status, "", "", reason=reason)
            for i in range(len(ask.members))
            for kind in ask.sources
        )
        return FederationResult(peer, outcomes, None, None)

    async def ask(self, peer_name: str, ask: FederationAsk, timeout: float) -> FederationResult:
        """Ask ``peer_name`` (which must be trusted now). PermissionDenied, with nothing
        sent, when the agreement or the 授权书 does not cover ``ask``; never raises for
        what the peer does or fails to do: that is in the outcomes."""
        peer = await self._trust.trusted(peer_name)
        pinned = self._trust.pinned_keys(peer)
        request = AuditAction.FEDERATION_REQUEST
        # The 授权书's validity is in dates of China, whatever the server's zone.
        gap = outbound_refusal(peer, ask, self._clock().astimezone(CHINA).date())
        if gap is not None:
            # Nothing leaves: what the agreement or the 授权书 does not cover is not sent.
            await self._append(self._entry(ask, peer.name, request, "refused", gap.value))
            raise PermissionDenied(gap.value, "the agreement or the 授权书 does not cover it")
        await self._append(self._entry(ask, peer.name, request, "sent"))
        answer = AuditAction.FEDERATION_ANSWER
        try:
            reply = await self._client.assist(peer, ask, timeout)
        except PeerRefused as exc:
            # The peer's text goes into the immutable audit log and reports: codes only.
            reason = peer_reason(exc.reason, PEER_REFUSED)
            await self._append(self._entry(ask, peer.name, answer, "refused", reason))
            return self._none(peer.name, ask, SourceStatus.DENIED, reason)
        except PeerRejected as exc:
            reason = PEER_REJECTED + exc.code
            await self._append(self._entry(ask, peer.name, answer, "failed", reason))
            return self._none(peer.name, ask, SourceStatus.FAILED, reason)
        except PeerUnavailable:
            await self._append(self._entry(ask, peer.name, answer, "failed", PEER_UNAVAILABLE))
            return self._none(peer.name, ask, SourceStatus.FAILED, PEER_UNAVAILABLE)
        try:
            verified = verify_fragment(
                reply.fragment, pinned, peer=peer.name, requester=self._name,
                request_id=ask.request_id,
                asked={(i, k) for i in range(len(ask.members)) for k in ask.sources},
            )  # fmt: skip
        except FragmentError as exc:
            reason = exc.reason.value
            await self._append(self._entry(ask, peer.name, answer, "refused", reason))
            return self._none(peer.name, ask, SourceStatus.FAILED, reason)
        await self._append(
            self._entry(
                ask, peer.name, answer, "accepted", key_id=verified.key_id,
                envelope_sha256=verified.envelope_sha256, peer_release_seq=reply.release_seq,
                peer_verification_id=verified.answer.peer_verification_id,
            )
        )  # fmt: skip
        return FederationResult(peer.name, verified.answer.outcomes, verified, reply.release_seq)
