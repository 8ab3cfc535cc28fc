"""Taking a check in: validate → authorize → record the intent, then start the run.

Nothing reaches a source before the ``authorize`` and ``access_intent`` entries have
committed. A malformed request stores nothing; a refused one stores only its audited
refusal. The 授权书 is read in the same unit of work that records the intent, after the
audit head is taken, so a revocation is either seen or falls after the check began. A
repeated ``request_id`` is answered as a replay of the first request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from audit.entry import Actor, EntryDraft
from hedui_sdk import SourceKind
from verifier.domain.caller import Caller
from verifier.domain.errors import (
    Conflict,
    DomainError,
    FailedPrecondition,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from verifier.domain.household import (
    RequestDraft,
    VerificationRequest,
    request_to_json,
    validate_request,
)
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports import (
    ConsentGate,
    Store,
    UnitOfWork,
    VerificationRecord,
    VerificationTerms,
)
from verifier.domain.ports.terms import CheckOrigin
from verifier.domain.time_limits import Due
from verifier.domain.vocabulary import AuditAction
from verifier.service.audit_trail import (
    actor_of,
    denial,
    record_denial,
    subject_refs,
)
from verifier.service.authorize import Decision, decide_check
from verifier.service.fanout import FanOut
from verifier.service.lanes import Lane
from verifier.service.reading import Reading
from verifier.service.runner import Runner
from verifier.service.runs import Runs, VerificationView
from verifier.service.time_limits import CheckTerms, due_in_region
from verifier.signing.jcs import canonical_bytes

log = structlog.get_logger("hedui.verifications")

VOLUME_WINDOW_HOURS = 24
INTERACTIVE = CheckTerms()


@dataclass(frozen=True, slots=True)
class IntentResult:
    """What recording a check's intent came to: recorded, or refused with the error its
    caller is to get. Either way the unit's audit entries are committed before the caller
    is told."""

    refusal: DomainError | None = None

    @property
    def recorded(self) -> bool:
        return self.refusal is None


RECORDED = IntentResult()


@dataclass(frozen=True, slots=True)
class _Check:
    """A validated request and what intake derived from it."""

    request: VerificationRequest
    caller: Caller
    actor: Actor
    refs: tuple[str, ...]
    kinds: tuple[SourceKind, ...]
    record: VerificationRecord
    terms: CheckTerms
    due: Due | None

    @property
    def vid(self) -> str:
        return self.record.id

    def stored_terms(self) -> VerificationTerms:
        return VerificationTerms(
            self.vid,
            self.terms.urgent,
            self.due.date if self.due else None,
            self.due.at if self.due else None,
            self.terms.batch_id,
            origin=self.terms.origin,
        )


def _refusal_details(request: VerificationRequest, kinds: tuple[SourceKind, ...]) -> dict[str, Any]:
    """What an ``authorize`` denial records of the request (no personal data)."""
    return {
        "authorization_id": request.authorization_id,
        "purposes": [p.value for p in request.purposes],
        "sources": [k.value for k in kinds],
    }


class Intake:
    def __init__(
        self,
        *,
        store: Store,
        fanout: FanOut,
        consents: ConsentGate,
        pseudonym_key: bytes,
        runner: Runner,
        reading: Reading,
        runs: Runs,
        clock: Callable[[], datetime],
        owner: str,
        volume_soft: int,
        volume_hard: int,
    ) -> None:
        self._store = store
        self._fanout = fanout
        self._consents = consents
        self._pkey = pseudonym_key
        self._runner = runner
        self._reading = reading
        self._runs = runs
        self._clock = clock
        self._owner = owner
        self._volume_soft = volume_soft
        self._volume_hard = volume_hard

    def _digest(self, request: VerificationRequest) -> str:
        # Keyed, like subject refs: the request holds ID numbers.
        return hmac.new(
            self._pkey, canonical_bytes(request_to_json(request)), hashlib.sha256
        ).hexdigest()

    async def create(
        self,
        caller: Caller,
        draft: RequestDraft,
        *,
        wait: bool,
        wait_until: float | None = None,
        terms: CheckTerms = INTERACTIVE,
    ) -> VerificationView:
        """Validate, authorize, record the intent, start asking sources.

        ``wait_until`` is a :func:`time.monotonic` instant (the caller's deadline); with
        ``wait`` the call returns when the first report is issued or just before then.
        ``terms`` say how the check runs (its lane at the sources, urgent, its batch).
        """
        if self._runs.closing:
            raise Unavailable("server is shutting down")
        request = validate_request(draft, today=self._clock().date())
        return await self.create_checked(
            caller, request, wait=wait, wait_until=wait_until, terms=terms
        )

    async def create_checked(
        self,
        caller: Caller,
        request: VerificationRequest,
        *,
        wait: bool,
        wait_until: float | None = None,
        terms: CheckTerms = INTERACTIVE,
    ) -> VerificationView:
        """:meth:`create` for a request validated already (a batch item, validated when
        its batch was accepted): authorize, record the intent, start asking sources."""
        if self._runs.closing:
            raise Unavailable("server is shutting down")
        if terms.lane is Lane.BATCH:
            return await self._create(caller, request, wait, wait_until, terms)
        # Batch work pauses from the start of an interactive check, not only once it asks
        # its sources: its intent waits for the database writer too.
        with self._runs.ahead():
            return await self._create(caller, request, wait, wait_until, terms)

    async def _create(
        self,
        caller: Caller,
        request: VerificationRequest,
        wait: bool,
        wait_until: float | None,
        terms: CheckTerms,
    ) -> VerificationView:
        refs = subject_refs(self._pkey, request)
        digest = self._digest(request)

        # No read before the write: the unique (caller, request_id) constraint turns a
        # repeated request into a Conflict below, answered as a replay.
        kinds = request.sources or self._fanout.configured
        decision = decide_check(caller, request)
        if not decision.allowed:
            await record_denial(
                self._store,
                denial(
                    caller,
                    decision,
                    action=AuditAction.AUTHORIZE.value,
                    case_id=request.case_id,
                    refs=refs,
                    request_id=request.request_id,
                    details=_refusal_details(request, kinds),
                ),
            )
            raise PermissionDenied(decision.reason, decision.message)

        now = self._clock()
        check = _Check(
            request,
            caller,
            actor_of(caller),
            refs,
            kinds,
            VerificationRecord(
                id=str(uuid.uuid4()),
                caller_system=caller.system,
                caller_user=caller.user,
                request_id=request.request_id,
                request_digest=digest,
                case_id=request.case_id,
                region=request.household.region,
                state=VerificationState.RUNNING,
                completeness=None,
                latest_version=0,
                created_at=now,
                member_count=len(request.household.members),
                source_count=len(kinds),
                caller_role=caller.role,
                caller_region=caller.region_label(),
            ),
            terms,
            due_in_region(request.household.region, now, urgent=terms.urgent),
        )

        async def record_intent(uow: UnitOfWork) -> IntentResult:
            return await self._record_intent(uow, check, decision, now)

        intent = asyncio.ensure_future(self._store.write(record_intent))
        try:
            result = await asyncio.shield(intent)
        except asyncio.CancelledError:
            # The caller went away while its intent was being recorded. A recorded intent
            # says the sources will be asked: ask them now, not when the lease expires.
            intent.add_done_callback(lambda done: self._start_if_recorded(done, check))
            raise
        except Conflict:
            # The same request_id was seen before (or won a race): answer as a replay.
            async with self._store.unit_of_work(write=False) as uow:
                existing = await uow.verifications.find_by_request(
                    caller.system, request.request_id
                )
            if existing is None:
                raise
            return await self._replay(existing, digest, wait, wait_until)
        if result.refusal is not None:
            raise result.refusal
        log.info(
            "verification_started",
            verification_id=check.vid,
            members=check.record.member_count,
            sources=check.record.source_count,
        )
        run = self._runner.start(
            check.vid, request, check.actor, wait_until if wait else None, terms
        )
        if wait:
            await self._runs.wait(run, wait_until)
            if run.released:
                return replace(run.released[-1], terms=check.stored_terms())
        return await self._reading.view(check.vid)

    async def _record_intent(
        self, uow: UnitOfWork, check: _Check, decision: Decision, now: datetime
    ) -> IntentResult:
        """The intent; or the refusal, recorded: the authorization's denial, or the
        volume limit reached."""
        request, actor, refs = check.request, check.actor, check.refs
        # The authorization is read in the unit that records the intent, after the
        # audit head is taken: a revocation either committed before (and is seen
        # here) or commits after this check began. Never in between.
        coverage = await self._consents.check(
            uow,
            request.authorization_id,
            region=request.household.region,
            subject_refs=refs,
            sources=check.kinds,
            purposes=request.purposes,
            today=now.date(),
        )
        if not coverage.allowed:
            refusal = Decision(False, coverage.reason, coverage.message)
            await uow.audit.append(
                [
                    denial(
                        check.caller,
                        refusal,
                        action=AuditAction.AUTHORIZE.value,
                        case_id=request.case_id,
                        refs=refs,
                        request_id=request.request_id,
                        details=_refusal_details(request, check.kinds),
                    )
                ]
            )
            return IntentResult(PermissionDenied(refusal.reason, refusal.message))
        # The per-user limit is for people: a batch is bounded by its size and the roster
        # by its households. The origin is hedui's own record, not a request field.
        interactive = check.terms.origin is CheckOrigin.INTERACTIVE
        recent = 0
        anomaly: list[EntryDraft] = []
        if interactive:
            recent = await uow.verifications.count_since(
                check.caller.system, check.caller.user, now - timedelta(hours=VOLUME_WINDOW_HOURS)
            )
            anomaly = self._volume_anomaly(actor, request, refs, recent)
        if interactive and recent >= self._volume_hard:
            # The refusal is recorded and committed; the caller is told after.
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=actor, action=AuditAction.AUTHORIZE.value, outcome="deny",
                        case_id=request.case_id, subject_refs=refs,
                        reason="VOLUME_LIMIT", request_id=request.request_id,
                        details={"authorization_id": request.authorization_id},
                    ),
                    *anomaly,
                ]
            )  # fmt: skip
            return IntentResult(
                ResourceExhausted(
                    "VOLUME_LIMIT",
                    f"{recent} checks in {VOLUME_WINDOW_HOURS} hours reach this user's limit",
                )
            )
        await uow.verifications.add(
            check.record,
            request,
            request.authorization_id,
            run_lease=(self._owner, self._runner.run_lease_until()),
        )
        await uow.terms.add(check.stored_terms())
        await uow.audit.append(
            [
                *(anomaly if interactive and recent + 1 == self._volume_soft else []),
                EntryDraft(
                    actor=actor,
                    action=AuditAction.AUTHORIZE.value,
                    outcome="allow",
                    case_id=request.case_id,
                    verification_id=check.vid,
                    subject_refs=refs,
                    reason=decision.reason,
                    request_id=request.request_id,
                    details={
                        "authorization_id": request.authorization_id,
                        "purposes": [p.value for p in request.purposes],
                        "origin": check.terms.origin.value,
                    },
                ),
                EntryDraft(
                    actor=actor,
                    action=AuditAction.ACCESS_INTENT.value,
                    outcome="recorded",
                    case_id=request.case_id,
                    verification_id=check.vid,
                    subject_refs=refs,
                    request_id=request.request_id,
                    details={
                        "sources": [k.value for k in check.kinds],
                        "window": {
                            "start": request.window.start.isoformat(),
                            "end": request.window.end.isoformat(),
                        },
                    },
                ),
            ]
        )
        return RECORDED

    def _start_if_recorded(self, intent: asyncio.Future[IntentResult], check: _Check) -> None:
        if intent.cancelled() or intent.exception() is not None:
            return  # nothing was recorded
        if not intent.result().recorded or self._runs.closing:
            return  # refused; or shutting down, and the lease hands the run on
        log.info("verification_started", verification_id=check.vid, caller_gone=True)
        self._runner.start(check.vid, check.request, check.actor, None, check.terms)

    async def _replay(
        self, existing: VerificationRecord, digest: str, wait: bool, wait_until: float | None
    ) -> VerificationView:
        if not hmac.compare_digest(existing.request_digest, digest):
            raise FailedPrecondition("request_id was already used for a different request")
        run = self._runs.get(existing.id)
        if wait and run is not None:
            await self._runs.wait(run, wait_until)
        return await self._reading.view(existing.id)

    def _volume_anomaly(
        self, actor: Actor, request: VerificationRequest, refs: tuple[str, ...], recent: int
    ) -> list[EntryDraft]:
        """The anomaly entry raised when a user checks unusually many households."""
        return [
            EntryDraft(
                actor=actor,
                action=AuditAction.ANOMALY.value,
                outcome="flagged",
                case_id=request.case_id,
                subject_refs=refs,
                reason="UNUSUAL_VOLUME",
                request_id=request.request_id,
                details={
                    "checks_in_window": recent + 1,
                    "window_hours": VOLUME_WINDOW_HOURS,
                    "soft_limit": self._volume_soft,
                    "hard_limit": self._volume_hard,
                },
            )
        ]
