"""The verification use cases: create, run, report, read.

Audit discipline (fail closed): the ``authorize`` and ``access_intent`` entries commit
before any source is asked; the ``released`` entry commits in the same transaction as
the report it records; if the audit log cannot be written, nothing proceeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import Any

import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from adapters import SourceKind
from audit.entry import Actor, EntryDraft
from verifier.domain.errors import (
    Conflict,
    FailedPrecondition,
    NotFound,
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
from verifier.domain.outcomes import (
    Completeness,
    SourceOutcome,
    SourceStatus,
    VerificationState,
    completeness_of,
)
from verifier.domain.ports import (
    CachedResult,
    Caller,
    ConsentGate,
    OutcomeSummary,
    Store,
    StoredReport,
    UnitOfWork,
    VerificationRecord,
)
from verifier.domain.pseudonym import subject_ref
from verifier.domain.report import ReportContext, build_report, summary_of
from verifier.domain.workdays import add_working_days
from verifier.service.authorize import Decision, decide_check, decide_read_report
from verifier.service.events import (
    Changed,
    Event,
    EventHub,
    ReportEvent,
    SourceEvent,
    StateEvent,
)
from verifier.service.fanout import FanOut
from verifier.signing.jcs import canonical_bytes
from verifier.signing.signer import ReportSigner

log = structlog.get_logger("hedui.verifications")

Assessor = Callable[[VerificationRequest, Sequence[SourceOutcome], date], Mapping[str, Any]]


RUN_LEASE_GRACE_S = 30.0
VOLUME_WINDOW_HOURS = 24
# Entries written by hedui itself (late answers, resumed runs) rather than for a caller.
SYSTEM_ACTOR = Actor(system="hedui", user="", role="system", region="")


def _requester(record: VerificationRecord) -> Actor:
    return Actor(record.caller_system, record.caller_user, record.caller_role, record.caller_region)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class VerificationView:
    record: VerificationRecord
    progress: tuple[OutcomeSummary, ...]


@dataclass(frozen=True, slots=True)
class _Run:
    task: asyncio.Task[None]
    done: asyncio.Event
    # Progress so far, for watchers who join while sources are still being asked.
    progress: list[SourceEvent]
    # The view as of each report this run released, newest last.
    released: list[VerificationView] = field(default_factory=list)


class VerificationService:
    def __init__(
        self,
        *,
        store: Store,
        fanout: FanOut,
        signer: ReportSigner,
        pseudonym_key: bytes,
        hub: EventHub | None = None,
        deadline_seconds: float = 30.0,
        clock: Callable[[], datetime] = _utcnow,
        assessor: Assessor | None = None,
        consents: ConsentGate,
        volume_soft: int = 50,
        volume_hard: int = 200,
    ) -> None:
        self._store = store
        self._fanout = fanout
        self._signer = signer
        self._pkey = pseudonym_key
        self.hub = hub or EventHub()
        self._deadline_seconds = deadline_seconds
        self._clock = clock
        self._assessor = assessor
        self._consents = consents
        self._volume_soft = volume_soft
        self._volume_hard = volume_hard
        self._runs: dict[str, _Run] = {}
        self._closing = False
        # How long a watcher waits for this process's events before reading the
        # database: another process may be answering for the same verification.
        self.watch_recheck_seconds = 2.0
        # Names this process in leases; unique per start so a restarted process does not
        # mistake its predecessor's leases for its own.
        self.owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # ------------------------------------------------------------------ helpers
    def _actor(self, caller: Caller) -> Actor:
        return Actor(
            system=caller.system, user=caller.user, role=caller.role, region=caller.region_label()
        )

    def _refs(self, request: VerificationRequest) -> tuple[str, ...]:
        return tuple(
            subject_ref(self._pkey, m.subject.id_type, m.subject.id_number)
            for m in request.household.members
        )

    def _digest(self, request: VerificationRequest) -> str:
        # Keyed, like subject refs: the request holds ID numbers.
        return hmac.new(
            self._pkey, canonical_bytes(request_to_json(request)), hashlib.sha256
        ).hexdigest()

    def _denial(
        self,
        caller: Caller,
        decision: Decision,
        *,
        action: str,
        verification_id: str = "",
        case_id: str = "",
        refs: tuple[str, ...] = (),
        request_id: str = "",
        details: dict[str, Any] | None = None,
    ) -> EntryDraft:
        return EntryDraft(
            actor=self._actor(caller),
            action=action,
            outcome="deny",
            case_id=case_id,
            verification_id=verification_id,
            subject_refs=refs,
            reason=decision.reason,
            request_id=request_id,
            details=details or {},
        )

    async def _audit_denial(
        self,
        caller: Caller,
        decision: Decision,
        *,
        action: str,
        verification_id: str = "",
        case_id: str = "",
        refs: tuple[str, ...] = (),
        request_id: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        entry = self._denial(
            caller,
            decision,
            action=action,
            verification_id=verification_id,
            case_id=case_id,
            refs=refs,
            request_id=request_id,
            details=details,
        )
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append([entry])
            await uow.commit()

    # ------------------------------------------------------------------ create
    async def create(
        self, caller: Caller, draft: RequestDraft, *, wait: bool, wait_until: float | None = None
    ) -> VerificationView:
        """Validate, authorize, record the intent, start asking sources.

        ``wait_until`` is a :func:`time.monotonic` instant (the caller's deadline); with
        ``wait`` the call returns when the first report is issued or just before then.
        """
        if self._closing:
            raise Unavailable("server is shutting down")
        request = validate_request(draft, today=self._clock().date())
        refs = self._refs(request)
        digest = self._digest(request)

        # No read before the write: the unique (caller, request_id) constraint turns a
        # repeated request into a Conflict below, answered as a replay.
        kinds = request.sources or self._fanout.configured
        decision = decide_check(caller, request)
        denial_details = {
            "authorization_id": request.authorization_id,
            "purposes": [p.value for p in request.purposes],
            "sources": [k.value for k in kinds],
        }
        if not decision.allowed:
            await self._audit_denial(
                caller,
                decision,
                action="authorize",
                case_id=request.case_id,
                refs=refs,
                request_id=request.request_id,
                details=denial_details,
            )
            raise PermissionDenied(decision.reason, decision.message)

        now = self._clock()
        vid = str(uuid.uuid4())
        record = VerificationRecord(
            id=vid,
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
        )
        actor = self._actor(caller)

        async def record_intent(uow: UnitOfWork) -> Decision | int | None:
            """The intent; or the refusal, recorded: the authorization's denial, or the
            count of checks that reached the volume limit."""
            # The authorization is read in the unit that records the intent, after the
            # audit head is taken: a revocation either committed before (and is seen
            # here) or commits after this check began. Never in between.
            coverage = await self._consents.check(
                uow,
                request.authorization_id,
                region=request.household.region,
                subject_refs=refs,
                sources=kinds,
                purposes=request.purposes,
                today=now.date(),
            )
            if not coverage.allowed:
                refusal = Decision(False, coverage.reason, coverage.message)
                await uow.audit.append(
                    [
                        self._denial(
                            caller,
                            refusal,
                            action="authorize",
                            case_id=request.case_id,
                            refs=refs,
                            request_id=request.request_id,
                            details=denial_details,
                        )
                    ]
                )
                return refusal
            recent = await uow.verifications.count_since(
                caller.system, caller.user, now - timedelta(hours=VOLUME_WINDOW_HOURS)
            )
            anomaly = self._volume_anomaly(actor, request, refs, recent)
            if recent >= self._volume_hard:
                # The refusal is recorded and committed; the caller is told after.
                await uow.audit.append(
                    [
                        EntryDraft(
                            actor=actor, action="authorize", outcome="deny",
                            case_id=request.case_id, subject_refs=refs,
                            reason="VOLUME_LIMIT", request_id=request.request_id,
                            details={"authorization_id": request.authorization_id},
                        ),
                        *anomaly,
                    ]
                )  # fmt: skip
                return recent
            await uow.verifications.add(
                record,
                request,
                request.authorization_id,
                run_lease=(self.owner, self._run_lease_until()),
            )
            await uow.audit.append(
                [
                    *(anomaly if recent + 1 == self._volume_soft else []),
                    EntryDraft(
                        actor=actor,
                        action="authorize",
                        outcome="allow",
                        case_id=request.case_id,
                        verification_id=vid,
                        subject_refs=refs,
                        reason=decision.reason,
                        request_id=request.request_id,
                        details={
                            "authorization_id": request.authorization_id,
                            "purposes": [p.value for p in request.purposes],
                        },
                    ),
                    EntryDraft(
                        actor=actor,
                        action="access_intent",
                        outcome="recorded",
                        case_id=request.case_id,
                        verification_id=vid,
                        subject_refs=refs,
                        request_id=request.request_id,
                        details={
                            "sources": [k.value for k in kinds],
                            "window": {
                                "start": request.window.start.isoformat(),
                                "end": request.window.end.isoformat(),
                            },
                        },
                    ),
                ]
            )
            return None

        intent = asyncio.ensure_future(self._store.write(record_intent))
        try:
            refused = await asyncio.shield(intent)
        except asyncio.CancelledError:
            # The caller went away while its intent was being recorded. A recorded intent
            # says the sources will be asked: ask them now, not when the lease expires.
            intent.add_done_callback(
                lambda done: self._start_if_recorded(done, vid, request, actor)
            )
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
        if isinstance(refused, Decision):
            raise PermissionDenied(refused.reason, refused.message)
        if refused is not None:
            raise ResourceExhausted(
                "VOLUME_LIMIT",
                f"{refused} checks in {VOLUME_WINDOW_HOURS} hours reach this user's limit",
            )
        log.info(
            "verification_started",
            verification_id=vid,
            members=record.member_count,
            sources=record.source_count,
        )
        run = self._start(vid, request, actor, wait_until if wait else None)
        if wait:
            await self._wait(run, wait_until)
            if run.released:
                return run.released[-1]
        return await self.view(vid)

    def _start_if_recorded(
        self,
        intent: asyncio.Future[Decision | int | None],
        vid: str,
        request: VerificationRequest,
        actor: Actor,
    ) -> None:
        if intent.cancelled() or intent.exception() is not None:
            return  # nothing was recorded
        if intent.result() is not None or self._closing:
            return  # refused; or shutting down, and the lease hands the run on
        log.info("verification_started", verification_id=vid, caller_gone=True)
        self._start(vid, request, actor, None)

    async def _replay(
        self, existing: VerificationRecord, digest: str, wait: bool, wait_until: float | None
    ) -> VerificationView:
        if not hmac.compare_digest(existing.request_digest, digest):
            raise FailedPrecondition("request_id was already used for a different request")
        run = self._runs.get(existing.id)
        if wait and run is not None:
            await self._wait(run, wait_until)
        return await self.view(existing.id)

    async def _wait(self, run: _Run, wait_until: float | None) -> None:
        # Leave a margin to answer before the caller's deadline expires.
        timeout = None if wait_until is None else max(0.0, wait_until - time.monotonic() - 0.25)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(run.done.wait()), timeout)

    def _volume_anomaly(
        self, actor: Actor, request: VerificationRequest, refs: tuple[str, ...], recent: int
    ) -> list[EntryDraft]:
        """The anomaly entry raised when a user checks unusually many households."""
        return [
            EntryDraft(
                actor=actor,
                action="anomaly",
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

    def _run_lease_until(self) -> datetime:
        # Longer than any run can take: a lease still held past this means a dead process.
        return self._clock() + timedelta(seconds=self._deadline_seconds + RUN_LEASE_GRACE_S)

    def _start(
        self, vid: str, request: VerificationRequest, actor: Actor, caller_deadline: float | None
    ) -> _Run:
        deadline = time.monotonic() + self._deadline_seconds
        if caller_deadline is not None:
            # Answer inside the caller's deadline: sources still silent then are FAILED.
            deadline = min(deadline, caller_deadline - 0.5)
        done = asyncio.Event()
        progress: list[SourceEvent] = []
        task = asyncio.get_running_loop().create_task(
            self._run(vid, request, actor, deadline, done, progress), name=f"verification-{vid}"
        )
        run = self._runs[vid] = _Run(task, done, progress)
        return run

    async def _reusable(
        self, request: VerificationRequest
    ) -> dict[tuple[int, SourceKind], SourceOutcome]:
        """Earlier definite answers still inside each source's reuse window."""
        now = self._clock()
        wanted: dict[tuple[str, str], list[tuple[int, SourceKind, int]]] = {}
        refs = self._refs(request)
        for kind in request.sources or self._fanout.configured:
            days = self._fanout.policy(kind).reuse_days
            if days <= 0:
                continue
            for i, ref in enumerate(refs):
                wanted.setdefault((ref, kind.value), []).append((i, kind, days))
        if not wanted:
            return {}
        oldest = now - timedelta(days=max(d for v in wanted.values() for _, _, d in v))
        async with self._store.unit_of_work(write=False) as uow:
            cached = await uow.cache.get(list(wanted), oldest)
        out: dict[tuple[int, SourceKind], SourceOutcome] = {}
        for key, hit in cached.items():
            for i, kind, days in wanted[key]:
                if hit.fetched_at < now - timedelta(days=days):
                    continue
                if hit.window != request.window:
                    continue  # an answer about another period (or of unknown period)
                out[(i, kind)] = SourceOutcome(
                    member_index=i,
                    source=kind,
                    status=SourceStatus(hit.status),
                    adapter=hit.adapter,
                    adapter_version=hit.adapter_version,
                    as_of=hit.as_of,
                    records=hit.records,
                    reason=f"reused answer fetched {hit.fetched_at:%Y-%m-%d}",
                    reused=True,
                    fetched_at=hit.fetched_at,
                )
        return out

    async def _run(
        self,
        vid: str,
        request: VerificationRequest,
        actor: Actor,
        deadline: float,
        done: asyncio.Event,
        seen: list[SourceEvent],
    ) -> None:
        try:

            async def progress(o: SourceOutcome) -> None:
                event = SourceEvent(
                    self._clock(), o.member_index, o.source.value, o.status, o.reason
                )
                seen.append(event)
                self.hub.publish(vid, event)

            reused = await self._reusable(request)
            for o in reused.values():
                await progress(o)
            outcomes = await self._fanout.run(
                request,
                request_id=vid,
                deadline=deadline,
                on_progress=progress,
                skip=frozenset(reused),
            )
            await self._release(vid, request, actor, [*reused.values(), *outcomes], first=True)
        except asyncio.CancelledError:
            log.warning("verification_interrupted", verification_id=vid)
            raise
        except Exception as exc:
            # The run lease expires and another process (or this one) resumes it.
            log.error("verification_failed", verification_id=vid, error=type(exc).__name__)
        finally:
            done.set()
            current = self._runs.get(vid)
            if current is not None and current.task is asyncio.current_task():
                # Only our own entry: a resumed run of the same verification may have
                # replaced it while this one was overrunning.
                del self._runs[vid]

    async def resume(self, vid: str) -> None:
        """Ask the sources again for a verification whose process died mid-run.

        Called by the poller after claiming the run's expired lease. The new
        ``access_intent`` entry says the sources are being asked again, and why.
        """
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.verifications.get(vid)
            request = await uow.verifications.load_request(vid) if record else None
        if record is None or request is None or record.state is not VerificationState.RUNNING:
            return
        actor = _requester(record)
        kinds = request.sources or self._fanout.configured
        async with self._store.unit_of_work(write=True) as uow:
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=SYSTEM_ACTOR,
                        action="access_intent",
                        outcome="recorded",
                        case_id=request.case_id,
                        verification_id=vid,
                        subject_refs=self._refs(request),
                        request_id=request.request_id,
                        reason="RESUMED",
                        details={"sources": [k.value for k in kinds], "resumed": True},
                    )
                ]
            )
            await uow.commit()
        log.info("verification_resumed", verification_id=vid)
        run = self._start(vid, request, actor, None)
        await run.done.wait()

    async def release_late(
        self, vid: str, outcomes: Sequence[SourceOutcome], *, poll_owner: str, overdue: bool = False
    ) -> StoredReport | None:
        """A new report version with late answers (or newly overdue sources)."""
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.verifications.get(vid)
            request = await uow.verifications.load_request(vid) if record else None
        if record is None or request is None:
            return None
        actor = _requester(record)
        return await self._release(
            vid, request, actor, outcomes, first=False, poll_owner=poll_owner, overdue=overdue
        )

    async def _release(
        self,
        vid: str,
        request: VerificationRequest,
        actor: Actor,
        new_outcomes: Sequence[SourceOutcome],
        *,
        first: bool,
        poll_owner: str | None = None,
        overdue: bool = False,
    ) -> StoredReport | None:
        """Sign the next report version and commit it with its ``released`` entry.

        Under the verification's row lock: the version number, the previous version's
        hash and the merged outcomes are read and written in one transaction, so two
        processes answering for the same verification cannot both issue version n.
        Retried while the database is briefly unavailable: a report never leaves without
        its entry, and an acknowledged verification is not dropped.
        """
        stored: StoredReport | None = None
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(Unavailable),
            stop=stop_after_delay(60),
            wait=wait_exponential_jitter(multiplier=0.2, max=5),
            reraise=True,
        ):
            with attempt:
                stored = await self._release_once(
                    vid,
                    request,
                    actor,
                    new_outcomes,
                    first=first,
                    poll_owner=poll_owner,
                    overdue=overdue,
                )
        return stored

    async def _release_once(
        self,
        vid: str,
        request: VerificationRequest,
        actor: Actor,
        new_outcomes: Sequence[SourceOutcome],
        *,
        first: bool,
        poll_owner: str | None,
        overdue: bool,
    ) -> StoredReport | None:
        async def release(
            uow: UnitOfWork,
        ) -> tuple[StoredReport, list[SourceOutcome], VerificationView] | None:
            record = await uow.verifications.lock(vid)
            if record is None:
                return None
            if first and record.state is not VerificationState.RUNNING:
                return None  # another process finished this run first
            fresh = list(new_outcomes)
            if poll_owner is not None:
                fresh = [
                    o
                    for o in fresh
                    if await uow.polls.holds(vid, o.member_index, o.source.value, poll_owner)
                ]
                if not fresh:
                    return None  # our leases expired and someone else answered
            now = self._clock()
            fresh = [self._with_due_date(o, now) for o in fresh]
            # Outcomes are stored only with a report: before the first there are none.
            stored_before = await uow.outcomes.load(vid) if record.latest_version else []
            merged = {(o.member_index, o.source): o for o in stored_before}
            merged.update({(o.member_index, o.source): o for o in fresh})
            outcomes = list(merged.values())
            version = record.latest_version + 1
            previous = (await uow.reports.get(vid, 0)) if record.latest_version else None

            assessment = self._assessor(request, outcomes, now.date()) if self._assessor else None
            doc = build_report(
                ReportContext(
                    report_id=str(uuid.uuid4()),
                    version=version,
                    previous_sha256=previous.envelope_sha256 if previous else None,
                    verification_id=vid,
                    created_at=now,
                    requester={
                        "system": actor.system,
                        "user": actor.user,
                        "role": actor.role,
                        "region": actor.region,
                    },
                ),
                request,
                outcomes,
                assessment,
            )
            signed = self._signer.sign(doc)
            completeness = completeness_of(tuple(outcomes))
            pending = any(o.status is SourceStatus.PENDING for o in outcomes)
            state = VerificationState.AWAITING_SOURCES if pending else VerificationState.DONE
            entries = await uow.audit.append(
                [
                    EntryDraft(
                        actor=actor if first else SYSTEM_ACTOR,
                        action="released",
                        outcome=completeness.value.lower(),
                        case_id=request.case_id,
                        verification_id=vid,
                        subject_refs=self._refs(request),
                        request_id=request.request_id,
                        reason="OVERDUE" if overdue else "",
                        details={
                            "report_id": doc["report_id"],
                            "version": version,
                            "envelope_sha256": signed.envelope_sha256,
                            "key_id": signed.key_id,
                            "late_sources": []
                            if first
                            else sorted({f"{o.member_index}:{o.source.value}" for o in fresh}),
                        },
                    )
                ]
            )
            stored = StoredReport(
                verification_id=vid,
                version=version,
                report_id=doc["report_id"],
                envelope=signed.envelope,
                envelope_sha256=signed.envelope_sha256,
                previous_sha256=previous.envelope_sha256 if previous else "",
                signing_key_id=signed.key_id,
                completeness=completeness,
                release_seq=entries[0].seq,
                summary_json=json.dumps(summary_of(doc), ensure_ascii=False, sort_keys=True),
                created_at=now,
            )
            await uow.outcomes.store(
                vid, fresh, now, stored={(o.member_index, o.source.value) for o in stored_before}
            )
            await uow.reports.add(stored)
            await uow.verifications.set_state(vid, state, completeness, version, now)
            await uow.cache.put(self._cacheable(request, fresh))
            await uow.reports.announce(vid)
            # What view() would read back after the commit, so a waiting caller is
            # answered without another round trip.
            view = VerificationView(
                replace(record, state=state, completeness=completeness, latest_version=version),
                tuple(
                    OutcomeSummary(o.member_index, o.source.value, o.status.value, o.reason)
                    for o in sorted(outcomes, key=lambda o: (o.member_index, o.source.value))
                ),
            )
            return stored, fresh, view

        released = await self._store.write(release)
        if released is None:
            return None
        stored, fresh, view = released
        state = view.record.state
        run = self._runs.get(vid)
        if run is not None:
            run.released.append(view)
        version, completeness = stored.version, stored.completeness
        log.info(
            "report_released",
            verification_id=vid,
            version=version,
            completeness=completeness.value,
            seq=stored.release_seq,
        )
        at = self._clock()
        for o in fresh if not first else ():
            self.hub.publish(
                vid, SourceEvent(at, o.member_index, o.source.value, o.status, o.reason)
            )
        self.hub.publish(vid, ReportEvent(at, version, completeness, stored.envelope_sha256))
        self.hub.publish(vid, StateEvent(at, state))
        return stored

    def _with_due_date(self, o: SourceOutcome, now: datetime) -> SourceOutcome:
        if o.status is not SourceStatus.PENDING or o.due_at is not None:
            return o
        days = self._fanout.policy(o.source).due_working_days
        due = add_working_days(now.date(), days)
        return replace(o, due_at=datetime.combine(due, dt_time(23, 59, 59), tzinfo=UTC))

    def _cacheable(
        self, request: VerificationRequest, outcomes: Sequence[SourceOutcome]
    ) -> list[CachedResult]:
        refs = self._refs(request)
        return [
            CachedResult(
                refs[o.member_index],
                o.source.value,
                o.status.value,
                o.adapter,
                o.adapter_version,
                o.as_of,
                o.fetched_at or self._clock(),
                o.records,
                request.window,
            )
            for o in outcomes
            if o.status in (SourceStatus.FOUND, SourceStatus.NOT_FOUND)
            and not o.reused
            and self._fanout.policy(o.source).reuse_days > 0
        ]

    # ------------------------------------------------------------------ reads
    async def view(self, vid: str) -> VerificationView:
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.verifications.get(vid)
            if record is None:
                raise NotFound("verification not found")
            progress = await uow.outcomes.summaries(vid)
        return VerificationView(record, tuple(progress))

    async def get(self, caller: Caller, vid: str) -> VerificationView:
        view = await self.view(vid)
        if not decide_read_report(caller, view.record.caller_system, view.record.region).allowed:
            raise NotFound("verification not found")
        return view

    async def watch(self, caller: Caller, vid: str) -> AsyncIterator[Event]:
        """Progress so far and the latest report version, then live events, until the
        verification is DONE.

        Every member × source status is delivered exactly once, however late the watcher
        joins: what the live stream missed is filled in from the database (or this
        process's running fan-out) before each report and state event. A watcher that
        joins (or rejoins) after versions were released is told the latest one at once,
        then every later one in order.
        """
        seen: set[tuple[int, str, SourceStatus]] = set()

        def missing(view: VerificationView) -> list[SourceEvent]:
            known = [
                SourceEvent(
                    self._clock(), p.member_index, p.source, SourceStatus(p.status), p.reason
                )
                for p in view.progress
            ]
            run = self._runs.get(vid)
            events = [e for e in [*known, *(run.progress if run else [])] if e.key not in seen]
            seen.update(e.key for e in events)
            return events

        with self.hub.subscribe(vid) as queue:
            view = await self.get(caller, vid)
            for e in missing(view):
                yield e
            state = view.record.state
            version = view.record.latest_version
            if version:
                yield await self._report_event(vid, version)
            yield StateEvent(self._clock(), state)
            while state is not VerificationState.DONE:
                try:
                    notice = await asyncio.wait_for(queue.get(), timeout=self.watch_recheck_seconds)
                except TimeoutError:
                    notice = Changed()  # another process may be answering: look again
                event = None if isinstance(notice, Changed) else notice
                if isinstance(event, SourceEvent):
                    if event.key not in seen:
                        seen.add(event.key)
                        yield event
                    continue
                view = await self.view(vid)
                for e in missing(view):
                    yield e
                # Versions another process released reach this one only through the
                # database: each is told once, in order, whoever released it.
                told = {event.version: event} if isinstance(event, ReportEvent) else {}
                for n in range(version + 1, max(view.record.latest_version, *told, 0) + 1):
                    yield told.get(n) or await self._report_event(vid, n)
                version = max(version, view.record.latest_version, *told, 0)
                if view.record.state is not state:
                    state = view.record.state
                    yield StateEvent(self._clock(), state)

    async def _report_event(self, vid: str, version: int) -> ReportEvent:
        async with self._store.unit_of_work(write=False) as uow:
            report = await uow.reports.get(vid, version)
        if report is None:
            raise KeyError(f"report version {version} is not stored")
        return ReportEvent(
            report.created_at, report.version, report.completeness, report.envelope_sha256
        )

    async def get_report(self, caller: Caller, vid: str, version: int) -> StoredReport:
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.verifications.get(vid)
        if record is None:
            raise NotFound("verification not found")
        decision = decide_read_report(caller, record.caller_system, record.region)
        if not decision.allowed:
            await self._audit_denial(
                caller, decision, action="report_read", verification_id=vid, case_id=record.case_id
            )
            raise NotFound("verification not found")

        async def read(uow: UnitOfWork) -> StoredReport:
            report = await uow.reports.get(vid, version)
            if report is None:
                if record.latest_version == 0:
                    raise FailedPrecondition("no report has been issued yet")
                raise NotFound(f"report version {version} not found")
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=self._actor(caller),
                        action="report_read",
                        outcome="allow",
                        case_id=record.case_id,
                        verification_id=vid,
                        details={"version": report.version, "report_id": report.report_id},
                    )
                ]
            )
            return report

        return await self._store.write(read)

    # ------------------------------------------------------------------ lifecycle
    async def aclose(self) -> None:
        """Stop accepting work and cancel runs still asking sources."""
        self._closing = True
        runs = list(self._runs.values())
        for r in runs:
            r.task.cancel()
        await asyncio.gather(*(r.task for r in runs), return_exceptions=True)

    def running(self) -> int:
        return len(self._runs)


__all__ = ["Completeness", "VerificationService", "VerificationView"]
