"""The answering side of a 协查: a trusted peer asks about members whose 户籍 is here.

In order, each step fail-closed and audited: the peer must be trusted now
(:meth:`PeerTrustService.trusted`); the ask's region must be one this deployment serves
(``regions``), and the agreement and the 授权书 must cover everything asked
(:func:`~verifier.domain.federation_ask.refusal`) — a refusal is a deny entry with
its reason, committed before the error is returned; an allow entry and the access intent
(subjects × sources) are committed before the first source is asked; this deployment's
own sources answer through the same fan-out as local checks; the fragment is signed and
kept (sealed) in the same unit of work as its ``released`` entry, whose seq is the
answer's provenance. Every entry names the requester, the 授权书 number and the
requester's request id, so an auditor here can follow the exchange to the other side.

A retry with the same request id gets the kept answer, without asking a source again,
audited as a ``released`` entry marked replayed (it discloses the records again); two
simultaneous first asks both ask the sources, the one kept first is the answer to both.
A reused request id with other content is a Conflict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from audit.entry import Actor, EntryDraft
from hedui_sdk.masking import mask_id_number
from verifier.domain.errors import Conflict, NotFound, PermissionDenied, ResourceExhausted
from verifier.domain.federation_ask import FederationAsk, refusal
from verifier.domain.fragment import PEER_REASON, FragmentAnswer
from verifier.domain.household import Household, Member, Relation, VerificationRequest
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.domain.ports import Store, UnitOfWork
from verifier.domain.ports.peers import StoredAnswer
from verifier.domain.pseudonym import subject_ref
from verifier.domain.time_limits import CHINA
from verifier.domain.vocabulary import AuditAction
from verifier.service.fanout import FanOut
from verifier.service.federation.peers import PeerTrustService

PEER_ROLE = "peer"
"""The actor role of a peer deployment in this deployment's audit entries."""

FragmentSigner = Callable[[FragmentAnswer], bytes]
ReceiptMaker = Callable[[int], Awaitable[dict[str, Any]]]
"""The receipt of an audit entry by seq (:meth:`AuditService.entry_receipt`)."""
RATE_LIMITED = "FEDERATION_RATE_LIMITED"
NO_ANSWER_IN_TIME = "SOURCE_NO_ANSWER_IN_TIME"
"""A fragment outcome's reason: the source had not answered when the 协查 was due."""


@dataclass(frozen=True, slots=True)
class GivenAnswer:
    envelope: bytes
    envelope_sha256: str
    release_seq: int
    """The seq of the ``released`` entry in this deployment's audit log."""
    replayed: bool
    """True when a retry got the answer kept from before."""


class InboundAssist:
    def __init__(
        self,
        store: Store,
        trust: PeerTrustService,
        fanout: FanOut,
        sign: FragmentSigner,
        *,
        name: str,
        regions: Collection[str],
        pseudonym_key: bytes,
        deadline_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        receipts: ReceiptMaker | None = None,
    ) -> None:
        self._store = store
        self._trust = trust
        self._fanout = fanout
        self._sign = sign
        self._name = name
        self._regions = frozenset(regions)
        self._pkey = pseudonym_key
        self._deadline_seconds = deadline_seconds
        self._clock = clock
        self._receipts = receipts

    def _digest(self, ask: FederationAsk) -> str:
        a = ask.authorization
        shape = {
            "members": [[m.id_type.value, m.id_number, m.name] for m in ask.members],
            "purposes": [p.value for p in ask.purposes],
            "sources": [s.value for s in ask.sources],
            "region": ask.region,
            "window": [ask.window.start.isoformat(), ask.window.end.isoformat()],
            "authorization": [a.number, a.evidence_sha256, list(a.signed_for)],
        }
        text = json.dumps(shape, ensure_ascii=False, sort_keys=True).encode()
        return hmac.new(self._pkey, text, hashlib.sha256).hexdigest()

    def _entry(
        self,
        ask: FederationAsk,
        action: AuditAction,
        outcome: str,
        reason: str = "",
        **details: object,
    ) -> EntryDraft:
        return EntryDraft(
            actor=Actor(system=ask.requester, role=PEER_ROLE, region=ask.region),
            action=action.value,
            outcome=outcome,
            subject_refs=tuple(
                subject_ref(self._pkey, m.id_type, m.id_number) for m in ask.members
            ),
            reason=reason,
            request_id=ask.request_id,
            details={
                "federation": "inbound",
                "authorization_number": ask.authorization.number,
                "evidence_sha256": ask.authorization.evidence_sha256,
                **details,
            },
        )

    async def _refuse(self, ask: FederationAsk, reason: str, message: str) -> PermissionDenied:
        async def work(uow: UnitOfWork) -> None:
            await uow.audit.append([self._entry(ask, AuditAction.AUTHORIZE, "deny", reason)])

        await self._store.write(work)
        return PermissionDenied(reason, message)

    async def answer(self, ask: FederationAsk, until: float | None = None) -> GivenAnswer:
        """The signed fragment answering ``ask``, or PermissionDenied (audited) with the
        reason, or Conflict for a reused request id with other content. Sources get until
        ``until`` (monotonic; the call's deadline) or the configured limit, if sooner."""
        try:
            agreement = await self._trust.trusted(ask.requester)
        except PermissionDenied as exc:
            raise await self._refuse(ask, exc.reason, str(exc)) from None
        # The peer's bucket is shared by every serving process (one row in the database),
        # taken in a unit of its own before anything else is done for the ask; a refusal
        # is audited in that same unit.
        rate = agreement.rate_per_minute

        async def take(uow: UnitOfWork) -> bool:
            if await uow.federation_rate.take(agreement.name, rate, self._clock()):
                return True
            await uow.audit.append([self._entry(ask, AuditAction.AUTHORIZE, "deny", RATE_LIMITED)])
            return False

        if not await self._store.write(take):
            raise ResourceExhausted(RATE_LIMITED, "more 协查 than the agreement's rate allows")
        # The 授权书's validity is in dates of China, whatever the server's zone.
        today = self._clock().astimezone(CHINA).date()
        gap = refusal(agreement, ask, today, self._regions)
        if gap is not None:
            raise await self._refuse(
                ask, gap.value, "the agreement or the 授权书 does not cover it"
            )
        digest = self._digest(ask)
        async with self._store.unit_of_work(write=False) as uow:
            kept = await uow.answers.get(ask.requester, ask.request_id)
        if kept is not None:
            return await self._replay(ask, kept, digest)
        vid = str(uuid.uuid4())

        async def intent(uow: UnitOfWork) -> None:
            await uow.audit.append(
                [
                    self._entry(ask, AuditAction.AUTHORIZE, "allow"),
                    self._entry(
                        ask, AuditAction.ACCESS_INTENT, "recorded",
                        sources=[s.value for s in ask.sources], peer_verification_id=vid,
                    ),
                ]
            )  # fmt: skip

        await self._store.write(intent)
        request = VerificationRequest(
            request_id=ask.request_id,
            case_id=ask.request_id,
            authorization_id=ask.authorization.number,
            purposes=ask.purposes,
            household=Household(ask.region, tuple(Member(m, Relation.OTHER) for m in ask.members)),
            sources=ask.sources,
            window=ask.window,
        )
        # The checked list, passed explicitly: the fan-out reads a request naming no
        # source as "every configured source", which a peer must never get.
        deadline = time.monotonic() + self._deadline_seconds
        outcomes = await self._fanout.run(
            request, request_id=ask.request_id, sources=ask.sources,
            deadline=deadline if until is None else min(deadline, until),
        )  # fmt: skip
        # A source still PENDING when the 协查 must be answered did not answer in time.
        final = tuple(
            _coded(o)
            if o.status is not SourceStatus.PENDING
            else replace(o, status=SourceStatus.FAILED, records=(), ticket=None,
                         reason=NO_ANSWER_IN_TIME)
            for o in outcomes
        )  # fmt: skip
        envelope = self._sign(
            FragmentAnswer(
                peer=self._name, requester=ask.requester, requester_request_id=ask.request_id,
                peer_verification_id=vid, authorization_number=ask.authorization.number,
                created_at=self._clock(),
                members=tuple(mask_id_number(m.id_number) for m in ask.members),
                outcomes=final,
            )
        )  # fmt: skip
        sha = hashlib.sha256(envelope).hexdigest()

        async def release(uow: UnitOfWork) -> int:
            [entry] = await uow.audit.append(
                [self._entry(
                    ask, AuditAction.RELEASED, "released", peer_verification_id=vid,
                    envelope_sha256=sha, statuses=_statuses(final),
                )]
            )  # fmt: skip
            await uow.answers.add(
                StoredAnswer(ask.requester, ask.request_id, digest, envelope, entry.seq,
                             self._clock())
            )  # fmt: skip
            return entry.seq

        try:
            seq = await self._store.write(release)
        except Conflict:
            # A simultaneous retry kept its answer first (the unique key on requester and
            # request id): that answer is the one given, to both. This unit of work,
            # with its released entry, is rolled back.
            async with self._store.unit_of_work(write=False) as uow:
                kept = await uow.answers.get(ask.requester, ask.request_id)
            if kept is None:
                raise
            return await self._replay(ask, kept, digest)
        return GivenAnswer(envelope, sha, seq, False)

    async def _replay(self, ask: FederationAsk, kept: StoredAnswer, digest: str) -> GivenAnswer:
        """The kept answer given again: a disclosure of members' records like the first,
        so audited like it (marked replayed, naming the original released entry) before
        it is returned."""
        if kept.request_digest != digest:
            raise Conflict("that request id was used for another 协查")
        sha = hashlib.sha256(kept.envelope).hexdigest()

        async def work(uow: UnitOfWork) -> None:
            await uow.audit.append(
                [self._entry(
                    ask, AuditAction.RELEASED, "released", replayed=True,
                    envelope_sha256=sha, release_seq=kept.release_seq,
                )]
            )  # fmt: skip

        await self._store.write(work)
        return GivenAnswer(kept.envelope, sha, kept.release_seq, True)

    async def receipt(self, requester: str, request_id: str) -> dict[str, Any]:
        """The receipt of the released entry of the answer given to ``requester`` under
        ``request_id``: only to that requester, trusted now; the read is an audit entry."""
        try:
            await self._trust.trusted(requester)
        except PermissionDenied as exc:
            # Refused like an Assist: one deny entry, committed before the error returns.
            raise await self._refuse_receipt(requester, request_id, exc) from None
        async with self._store.unit_of_work(write=False) as uow:
            kept = await uow.answers.get(requester, request_id)
        if kept is None or self._receipts is None:
            raise NotFound("no answer was given under that request id")
        seq = kept.release_seq

        async def work(uow: UnitOfWork) -> None:
            entry = EntryDraft(
                actor=Actor(system=requester, role=PEER_ROLE), action=AuditAction.AUDIT_READ.value,
                outcome="allow", request_id=request_id,
                details={"federation": "receipt", "seq": seq},
            )  # fmt: skip
            await uow.audit.append([entry])

        await self._store.write(work)
        return await self._receipts(seq)

    async def _refuse_receipt(
        self, requester: str, request_id: str, exc: PermissionDenied
    ) -> PermissionDenied:
        async def work(uow: UnitOfWork) -> None:
            entry = EntryDraft(
                actor=Actor(system=requester, role=PEER_ROLE), action=AuditAction.AUTHORIZE.value,
                outcome="deny", reason=exc.reason, request_id=request_id,
                details={"federation": "receipt"},
            )  # fmt: skip
            await uow.audit.append([entry])

        await self._store.write(work)
        return exc


def _coded(outcome: SourceOutcome) -> SourceOutcome:
    """``outcome`` with a reason a requester takes: a code. A reason in words (an
    adapter's redacted exception message) is not sent to the peer; the fragment says
    ``SOURCE_FAILED`` or ``SOURCE_DENIED`` instead."""
    if outcome.reason == "" or PEER_REASON.fullmatch(outcome.reason):
        return outcome
    return replace(outcome, reason=f"SOURCE_{outcome.status.value}")


def _statuses(outcomes: tuple[SourceOutcome, ...]) -> dict[str, int]:
    """How many member × source answers had each status (counts only, no personal data)."""
    return dict(Counter(o.status.value for o in outcomes))
