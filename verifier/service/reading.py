"""Reading a verification: its view, its live progress, its reports.

A report read is audited (``report_read``) before the report is returned; a refused read
is audited too and answered as "not found", so ids are not an oracle.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from audit.entry import EntryDraft
from verifier.domain.caller import Caller
from verifier.domain.errors import NotFound
from verifier.domain.outcomes import SourceStatus, VerificationState
from verifier.domain.ports import Store, StoredReport, UnitOfWork
from verifier.domain.vocabulary import AuditAction
from verifier.service.audit_trail import actor_of, denial, record_denial
from verifier.service.authorize import decide_read_report
from verifier.service.events import (
    Changed,
    Event,
    EventHub,
    ReportEvent,
    SourceEvent,
    StateEvent,
)
from verifier.service.report_versions import stored_version
from verifier.service.runs import Runs, VerificationView


class Reading:
    def __init__(
        self, *, store: Store, hub: EventHub, runs: Runs, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._hub = hub
        self._runs = runs
        self._clock = clock
        # How long a watcher waits for this process's events before reading the
        # database: another process may be answering for the same verification.
        self.watch_recheck_seconds = 2.0

    async def view(self, vid: str) -> VerificationView:
        async with self._store.unit_of_work(write=False) as uow:
            record = await uow.verifications.get(vid)
            if record is None:
                raise NotFound("verification not found")
            progress = await uow.outcomes.summaries(vid)
            terms = await uow.terms.get(vid)
        return VerificationView(record, tuple(progress), terms)

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

        with self._hub.subscribe(vid) as queue:
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
            await record_denial(
                self._store,
                denial(
                    caller,
                    decision,
                    action=AuditAction.REPORT_READ.value,
                    verification_id=vid,
                    case_id=record.case_id,
                ),
            )
            raise NotFound("verification not found")

        async def read(uow: UnitOfWork) -> StoredReport:
            report = await stored_version(uow, vid, version, record.latest_version)
            await uow.audit.append(
                [
                    EntryDraft(
                        actor=actor_of(caller),
                        action=AuditAction.REPORT_READ.value,
                        outcome="allow",
                        case_id=record.case_id,
                        verification_id=vid,
                        details={"version": report.version, "report_id": report.report_id},
                    )
                ]
            )
            return report

        return await self._store.write(read)
