"""Releasing a verification's reports: merge the outcomes → assess → sign → store.

A run (see :mod:`verifier.service.runner`) releases version 1; late answers (banks),
newly overdue sources and peers' late 协查 answers release the next versions. Each
version is signed and committed with its ``released`` audit entry in one transaction,
under the verification's lock, and names the previous version's SHA-256.

A peer's accepted fragments are kept with the version that first uses them and embedded
in every version whose outcomes they hold. While a peer is still to be asked again (a
retry is kept), the check stays AWAITING_SOURCES with its outcomes kept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import structlog
from opentelemetry import trace
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from audit.entry import Actor, EntryDraft
from verifier.domain.errors import Unavailable
from verifier.domain.fragment import EmbeddedFragment
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import (
    SourceOutcome,
    SourceStatus,
    VerificationState,
    completeness_of,
)
from verifier.domain.ports import (
    CachedResult,
    OutcomeSummary,
    Store,
    StoredReport,
    UnitOfWork,
)
from verifier.domain.ports.federation_retries import PeerRetry, RetryKey
from verifier.domain.report import ReportContext, build_report, summary_of
from verifier.domain.time_limits import after_working_days
from verifier.domain.vocabulary import AuditAction
from verifier.service.audit_trail import SYSTEM_ACTOR, requester_of, subject_refs
from verifier.service.events import EventHub, ReportEvent, SourceEvent, StateEvent
from verifier.service.fanout import FanOut
from verifier.service.monitoring.hooks import on_version_released
from verifier.service.runs import Runs, VerificationView
from verifier.service.webhooks.hooks import on_report_released
from verifier.signing.signer import ReportSigner, SignedReport

log = structlog.get_logger("hedui.verifications")
tracer = trace.get_tracer("hedui.release")

Assessor = Callable[[VerificationRequest, Sequence[SourceOutcome], date], Mapping[str, Any]]

_Released = tuple[StoredReport, list[SourceOutcome], VerificationView]


@dataclass(frozen=True, slots=True)
class PeerRetries:
    """Changes to a check's asks to peers, committed with the version they go with."""

    schedule: tuple[PeerRetry, ...] = ()
    """Asks to make again (the peer did not answer, or its fragment was refused); a
    retry already kept for the same ask stands as it is."""
    finish: tuple[RetryKey, ...] = ()
    """Asks answered, or given up, with this version."""
    owner: str | None = None
    """The retrier process that holds the ``finish`` retries' leases: the version is
    not released if another process has taken any of them since (it asks and releases
    in its turn). None: a run finishing the retries of asks it got answered itself."""


NO_RETRIES = PeerRetries()


@dataclass(frozen=True, slots=True)
class _Made:
    """A report version assessed, built and signed, with the outcomes it was made from."""

    now: datetime
    version: int
    fresh: list[SourceOutcome]
    outcomes: list[SourceOutcome]
    doc: dict[str, Any]
    signed: SignedReport
    fragments: tuple[EmbeddedFragment, ...] = ()
    """The fragments accepted with this version's new outcomes (to keep)."""


class Release:
    def __init__(
        self,
        *,
        store: Store,
        fanout: FanOut,
        signer: ReportSigner,
        pseudonym_key: bytes,
        hub: EventHub,
        runs: Runs,
        clock: Callable[[], datetime],
        assessor: Assessor | None,
        deployment: str = "",
    ) -> None:
        """``deployment`` is this deployment's federation name, which its reports state
        when they embed peers' fragments ("" without federation)."""
        self._store = store
        self._fanout = fanout
        self._signer = signer
        self._pkey = pseudonym_key
        self._hub = hub
        self._runs = runs
        self._clock = clock
        self._assessor = assessor
        self._deployment = deployment

    async def release_late(
        self, vid: str, outcomes: Sequence[SourceOutcome], *, poll_owner: str, overdue: bool = False
    ) -> StoredReport | None:
        """A new report version with late answers (or newly overdue sources)."""
        return await self._release_next(vid, outcomes, poll_owner=poll_owner, overdue=overdue)

    async def release_federated(
        self,
        vid: str,
        outcomes: Sequence[SourceOutcome],
        fragments: Sequence[EmbeddedFragment],
        retries: PeerRetries,
    ) -> StoredReport | None:
        """A new report version with a peer's late answer (or its deadline passed)."""
        return await self._release_next(vid, outcomes, fragments=fragments, retries=retries)

    async def _release_next(
        self,
        vid: str,
        outcomes: Sequence[SourceOutcome],
        *,
        poll_owner: str | None = None,
        overdue: bool = False,
        fragments: Sequence[EmbeddedFragment] = (),
        retries: PeerRetries = NO_RETRIES,
    ) -> StoredReport | None:
        """A version after the run's, released outside it: the request and its requester
        are read from the store (None when the check is gone)."""
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.verifications.get(vid)
            request = await uow.verifications.load_request(vid) if record else None
        if record is None or request is None:
            return None
        return await self.release(
            vid, request, requester_of(record), outcomes, first=False, poll_owner=poll_owner,
            overdue=overdue, fragments=fragments, retries=retries,
        )  # fmt: skip

    async def release(
        self,
        vid: str,
        request: VerificationRequest,
        actor: Actor,
        new_outcomes: Sequence[SourceOutcome],
        *,
        first: bool,
        poll_owner: str | None = None,
        overdue: bool = False,
        fragments: Sequence[EmbeddedFragment] = (),
        retries: PeerRetries = NO_RETRIES,
    ) -> StoredReport | None:
        """Sign the next report version and commit it with its ``released`` entry.

        ``fragments`` are peers' fragments accepted for ``new_outcomes``: kept, and
        embedded with the ones kept before where the outcomes refer to them.
        ``retries`` are scheduled and finished in the same transaction.

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
                    fragments=tuple(fragments),
                    retries=retries,
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
        fragments: tuple[EmbeddedFragment, ...] = (),
        retries: PeerRetries = NO_RETRIES,
    ) -> StoredReport | None:
        # A run's first version depends on nothing stored: it is made (assessed, built,
        # signed) before the write transaction, which every other write of the process
        # queues behind, and used there if the verification has no version yet.
        ahead = (
            self._made(
                vid,
                request,
                actor,
                new_outcomes,
                version=1,
                previous_sha256=None,
                fragments=fragments,
            )
            if first and poll_owner is None
            else None
        )

        async def release(uow: UnitOfWork) -> _Released | None:
            return await self._release_in(
                uow, vid, request, actor, new_outcomes, first, poll_owner, overdue, ahead,
                fragments, retries,
            )  # fmt: skip

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
            self._hub.publish(
                vid, SourceEvent(at, o.member_index, o.source.value, o.status, o.reason)
            )
        self._hub.publish(vid, ReportEvent(at, version, completeness, stored.envelope_sha256))
        self._hub.publish(vid, StateEvent(at, state))
        return stored

    async def _release_in(
        self,
        uow: UnitOfWork,
        vid: str,
        request: VerificationRequest,
        actor: Actor,
        new_outcomes: Sequence[SourceOutcome],
        first: bool,
        poll_owner: str | None,
        overdue: bool,
        ahead: _Made | None = None,
        fragments: tuple[EmbeddedFragment, ...] = (),
        retries: PeerRetries = NO_RETRIES,
    ) -> _Released | None:
        """The release's work inside its (possibly shared) transaction."""
        record = await uow.verifications.lock(vid)
        if record is None:
            return None
        if first and record.state is not VerificationState.RUNNING:
            return None  # another process finished this run first
        if not first and record.state is VerificationState.DONE:
            # Nothing is awaited any more (its outcome rows are gone with it): a late
            # answer, e.g. a peer's asked twice, has no version to make.
            return None
        if retries.owner is not None:
            for k in retries.finish:
                if not await uow.federation_retries.holds(
                    k.verification_id, k.peer, k.ask_request_id, retries.owner
                ):
                    return None  # our lease ended and another process took the retry
        fresh = list(new_outcomes)
        if poll_owner is not None:
            fresh = [
                o
                for o in fresh
                if await uow.polls.holds(vid, o.member_index, o.source.value, poll_owner)
            ]
            if not fresh:
                return None  # our leases expired and someone else answered
        previous: StoredReport | None = None
        stored_before: list[SourceOutcome] = []
        if ahead is not None and record.latest_version == 0:
            made = ahead
        else:
            # Outcomes are stored only with a report: before the first there are none.
            stored_before = await uow.outcomes.load(vid) if record.latest_version else []
            if record.latest_version:
                previous = await uow.reports.get(vid, 0)
            kept: list[EmbeddedFragment] = []
            if record.latest_version and any(o.fragment_sha256 for o in stored_before):
                # Only a federated check's later versions read the fragments kept.
                kept = await uow.fragments.of(vid)
            made = self._made(
                vid,
                request,
                actor,
                fresh,
                version=record.latest_version + 1,
                previous_sha256=previous.envelope_sha256 if previous else None,
                stored_before=stored_before,
                fragments=fragments,
                kept=kept,
            )
        now, version, fresh, outcomes = made.now, made.version, made.fresh, made.outcomes
        doc, signed = made.doc, made.signed
        completeness = completeness_of(tuple(outcomes))
        pending = any(o.status is SourceStatus.PENDING for o in outcomes)
        if any(o.deployment for o in outcomes):
            # A federated check (peers asked): a local check makes none of these reads.
            for fragment in made.fragments:
                await uow.fragments.add(vid, fragment, now)
            for r in retries.schedule:
                await uow.federation_retries.schedule(r)
            for k in retries.finish:
                await uow.federation_retries.finish(
                    k.verification_id, k.peer, k.ask_request_id, retries.owner
                )
            # A peer still to be asked again: the check waits for it, outcomes kept.
            pending = pending or await uow.federation_retries.pending(vid)
        state = VerificationState.AWAITING_SOURCES if pending else VerificationState.DONE
        if any(o.status is SourceStatus.PENDING and not o.ticket for o in outcomes):
            # Still being asked (an urgent check's early version 1): the run goes on, and
            # if its process dies the run lease hands it to another, as for any run.
            state = VerificationState.RUNNING
        entries = await uow.audit.append(
            [
                EntryDraft(
                    actor=actor if first else SYSTEM_ACTOR,
                    action=AuditAction.RELEASED.value,
                    outcome=completeness.value.lower(),
                    case_id=request.case_id,
                    verification_id=vid,
                    subject_refs=subject_refs(self._pkey, request),
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
        if state is VerificationState.DONE:
            # Its outcomes live on in the version just signed (records, statuses, reasons,
            # provenance); keeping the rows too doubled what a check leaves behind. Rows
            # are stored only with a report: a first version has none to drop.
            if record.latest_version:
                await uow.outcomes.close(vid)
        else:
            await uow.outcomes.store(
                vid, fresh, now, stored={(o.member_index, o.source.value) for o in stored_before}
            )
        await uow.reports.add(stored)
        await uow.verifications.set_state(vid, state, completeness, version, now)
        await uow.cache.put(self._cacheable(request, fresh))
        await uow.reports.announce(vid)
        await on_version_released(
            uow, record=record, request=request, version=version, at=now, pseudonym_key=self._pkey
        )
        await on_report_released(
            uow,
            verification_id=vid,
            case_id=request.case_id,
            version=version,
            envelope_sha256=signed.envelope_sha256,
            at=now,
        )
        # What view() would read back after the commit, so a waiting caller is
        # answered without another round trip.
        view = VerificationView(
            replace(record, state=state, completeness=completeness, latest_version=version),
            tuple(
                OutcomeSummary(
                    o.member_index, o.source.value, o.status.value, o.reason, o.deployment
                )
                for o in sorted(outcomes, key=lambda o: (o.member_index, o.source.value))
            ),
        )
        return stored, fresh, view

    def _made(
        self,
        vid: str,
        request: VerificationRequest,
        actor: Actor,
        new_outcomes: Sequence[SourceOutcome],
        *,
        version: int,
        previous_sha256: str | None,
        stored_before: Sequence[SourceOutcome] = (),
        fragments: Sequence[EmbeddedFragment] = (),
        kept: Sequence[EmbeddedFragment] = (),
    ) -> _Made:
        """Version ``version`` of the report: the new outcomes over the stored ones,
        assessed, built and signed, embedding the fragments (new or ``kept``) that hold
        some of its outcomes."""
        now = self._clock()
        fresh = [self._with_due_date(o, now) for o in new_outcomes]
        merged = {(o.member_index, o.source): o for o in stored_before}
        merged.update({(o.member_index, o.source): o for o in fresh})
        outcomes = list(merged.values())
        embedded: list[EmbeddedFragment] = []
        if fragments or kept:
            held = {o.fragment_sha256 for o in outcomes if o.fragment_sha256}
            known = {f.envelope_sha256: f for f in (*kept, *fragments)}
            embedded = [known[sha] for sha in sorted(held) if sha in known]
        with tracer.start_as_current_span("assess", attributes={"hedui.version": version}):
            assessment = self._assessor(request, outcomes, now.date()) if self._assessor else None
        doc = build_report(
            ReportContext(
                report_id=str(uuid.uuid4()),
                version=version,
                previous_sha256=previous_sha256,
                verification_id=vid,
                created_at=now,
                requester={
                    "system": actor.system,
                    "user": actor.user,
                    "role": actor.role,
                    "region": actor.region,
                },
                deployment=self._deployment,
            ),
            request,
            outcomes,
            assessment,
            fragments=embedded,
        )
        with tracer.start_as_current_span("sign"):
            signed = self._signer.sign(doc)
        return _Made(now, version, fresh, outcomes, doc, signed, tuple(fragments))

    def _with_due_date(self, o: SourceOutcome, now: datetime) -> SourceOutcome:
        """A PENDING answer without a due instant is due by its source's policy, in
        working days of China's calendar to the end of that day in China (a peer's pair
        comes with the agreement's)."""
        if o.status is not SourceStatus.PENDING or o.due_at is not None:
            return o
        days = self._fanout.policy(o.source).due_working_days
        return replace(o, due_at=after_working_days(now, days).at)

    def _cacheable(
        self, request: VerificationRequest, outcomes: Sequence[SourceOutcome]
    ) -> list[CachedResult]:
        refs = subject_refs(self._pkey, request)
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
            # A peer's answer is its sources', not ours: never reused as a local one.
            and not o.deployment
            and self._fanout.policy(o.source).reuse_days > 0
        ]
