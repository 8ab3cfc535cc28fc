"""The SQL unit of work: one transaction over verifications, reports and the audit log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar, cast

from sqlalchemy import func, insert, or_, select, tuple_, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, IntegrityError, InternalError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters import Record, SourceKind, Window
from audit.entry import EntryDraft
from audit.group_commit import GroupCommitter
from audit.log import AppendedEntry, AuditLog, AuditUnavailable
from audit.schema import AuditHeadRow
from verifier.domain.consent import (
    ConsentDoc,
    ConsentEvent,
    ConsentRecord,
    ConsentState,
    consent_doc_from_json,
    consent_doc_to_json,
)
from verifier.domain.errors import Conflict, Unavailable
from verifier.domain.household import (
    Purpose,
    VerificationRequest,
    request_from_json,
    request_to_json,
)
from verifier.domain.outcomes import (
    Completeness,
    SourceOutcome,
    SourceStatus,
    VerificationState,
    next_poll_at,
)
from verifier.domain.ports import (
    CachedResult,
    OutcomeSummary,
    PollLease,
    Store,
    StoredReport,
    UnitOfWork,
    VerificationRecord,
)
from verifier.domain.records_codec import records_from_json, records_to_json
from verifier.storage.engine import Database
from verifier.storage.models import (
    ConsentEventRow,
    ConsentRow,
    ConsentSubjectRow,
    ReportRow,
    ResultCacheRow,
    SourceOutcomeRow,
    VerificationRow,
)
from verifier.storage.notify import announce, listen
from verifier.storage.sealing import Sealer


@asynccontextmanager
async def _guard() -> AsyncIterator[None]:
    """Turn driver failures into domain errors the API maps to gRPC codes."""
    try:
        yield
    except IntegrityError:
        raise Conflict("a concurrent request changed the same record") from None
    except (OperationalError, InternalError, AuditUnavailable) as exc:
        # Lock timeouts, a read-only or full database, a lost connection: the audit log
        # cannot be written now, so nothing proceeds (fail closed, retryable).
        raise Unavailable(f"database unavailable ({type(exc).__name__})") from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable("database connection lost") from None
        raise


T = TypeVar("T")

_OUTCOME_KEY = frozenset({"verification_id", "member_index", "source"})


def _record(row: VerificationRow) -> VerificationRecord:
    return VerificationRecord(
        id=row.id,
        caller_system=row.caller_system,
        caller_user=row.caller_user,
        request_id=row.request_id,
        request_digest=row.request_digest,
        case_id=row.case_id,
        region=row.region,
        state=VerificationState(row.state),
        completeness=Completeness(row.completeness) if row.completeness else None,
        latest_version=row.latest_version,
        created_at=row.created_at,
        member_count=row.member_count,
        source_count=row.source_count,
        caller_role=row.caller_role,
        caller_region=row.caller_region,
    )


class SqlUnitOfWork(UnitOfWork):
    """A unit of work over its own session, or (``shared``) over a session another
    component opened and will commit: the group committer's batch transaction."""

    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        audit_log: AuditLog,
        *,
        write: bool,
        shared: AsyncSession | None = None,
    ) -> None:
        self._db = db
        self._sealer = sealer
        self._audit = audit_log
        self._write = write
        self._session: AsyncSession | None = shared
        self._shared = shared is not None
        self._locked = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._shared:
            raise RuntimeError("a shared unit of work is not entered: its owner commits")
        if self._write and self._db.sqlite:
            await self._db.write_lock.acquire()
            self._locked = True
        factory = self._db.write_sessions if self._write else self._db.read_sessions
        self._session = factory()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._session is not None:
                try:
                    await self._session.rollback()
                finally:
                    await self._session.close()
        except (OperationalError, DBAPIError):
            # The connection is gone; the transaction died with it. Nothing to undo.
            pass
        finally:
            self._session = None
            if self._locked:
                self._db.write_lock.release()
                self._locked = False

    async def commit(self) -> None:
        if self._shared:
            raise RuntimeError("work in a shared transaction must not commit")
        async with _guard():
            await self.session.commit()

    async def rollback(self) -> None:
        if self._shared:
            raise RuntimeError("work in a shared transaction must not roll back; raise")
        await self.session.rollback()

    async def append_audit(self, drafts: Sequence[EntryDraft]) -> list[AppendedEntry]:
        async with _guard():
            return await self._audit.append(self.session, drafts)

    async def find_verification_by_request(
        self, caller_system: str, request_id: str
    ) -> VerificationRecord | None:
        async with _guard():
            row = (
                await self.session.execute(
                    select(VerificationRow).where(
                        VerificationRow.caller_system == caller_system,
                        VerificationRow.request_id == request_id,
                    )
                )
            ).scalar_one_or_none()
        return _record(row) if row else None

    async def count_checks_since(
        self, caller_system: str, caller_user: str, since: datetime
    ) -> int:
        async with _guard():
            n = await self.session.execute(
                select(func.count())
                .select_from(VerificationRow)
                .where(
                    VerificationRow.caller_system == caller_system,
                    VerificationRow.caller_user == caller_user,
                    VerificationRow.created_at >= since,
                )
            )
            return int(n.scalar_one())

    async def get_verification(self, verification_id: str) -> VerificationRecord | None:
        async with _guard():
            row = await self.session.get(VerificationRow, verification_id)
        return _record(row) if row else None

    async def add_verification(
        self,
        record: VerificationRecord,
        request: VerificationRequest,
        authorization_id: str,
        *,
        run_lease: tuple[str, datetime],
    ) -> None:
        plain = json.dumps(request_to_json(request), ensure_ascii=False).encode()
        sealed, kid = self._sealer.seal(plain, f"verifications/{record.id}")
        owner, until = run_lease
        async with _guard():
            # A Core INSERT: nothing in this unit reads the row back, and the ORM's flush
            # costs more than the statement itself on the request path.
            await self.session.execute(
                insert(VerificationRow).values(
                    id=record.id,
                    caller_system=record.caller_system,
                    caller_user=record.caller_user,
                    caller_role=record.caller_role,
                    caller_region=record.caller_region,
                    request_id=record.request_id,
                    request_digest=record.request_digest,
                    case_id=record.case_id,
                    authorization_id=authorization_id,
                    region=record.region,
                    purposes=",".join(p.value for p in request.purposes),
                    member_count=record.member_count,
                    source_count=record.source_count,
                    state=record.state.value,
                    completeness="",
                    latest_version=0,
                    created_at=record.created_at,
                    updated_at=record.created_at,
                    request_sealed=sealed,
                    request_key_id=kid,
                    run_owner=owner,
                    run_lease_until=until,
                )
            )

    async def load_request(self, verification_id: str) -> VerificationRequest:
        async with _guard():
            row = await self.session.get(VerificationRow, verification_id)
        if row is None:
            raise KeyError(verification_id)
        plain = self._sealer.open(row.request_sealed, row.request_key_id, f"verifications/{row.id}")
        return request_from_json(json.loads(plain))

    def _seal_records(
        self, vid: str, i: int, source: str, records: tuple[Record, ...]
    ) -> tuple[bytes, str]:
        plain = json.dumps(records_to_json(records), ensure_ascii=False).encode()
        return self._sealer.seal(plain, f"source_outcomes/{vid}/{i}/{source}")

    def _outcome_values(self, vid: str, o: SourceOutcome, now: datetime) -> dict[str, object]:
        sealed, kid = self._seal_records(vid, o.member_index, o.source.value, o.records)
        ticket_sealed, poll_at = None, None
        if o.status is SourceStatus.PENDING and o.ticket:
            aad = f"tickets/{vid}/{o.member_index}/{o.source.value}"
            ticket_sealed, _ = self._sealer.seal(o.ticket.encode(), aad)
            poll_at = next_poll_at(now, o.retry_after, o.due_at, o.overdue_flagged)
        return {
            "verification_id": vid,
            "member_index": o.member_index,
            "source": o.source.value,
            "status": o.status.value,
            "adapter": o.adapter,
            "adapter_version": o.adapter_version,
            "reason": o.reason,
            "attempts": o.attempts,
            "as_of": o.as_of,
            "record_count": len(o.records),
            "updated_at": now,
            "records_sealed": sealed,
            "records_key_id": kid,
            "ticket_sealed": ticket_sealed,
            "reused": o.reused,
            "fetched_at": o.fetched_at,
            "due_at": o.due_at,
            "overdue_flagged": o.overdue_flagged,
            "next_poll_at": poll_at,
            "lease_owner": None,
            "lease_until": None,
        }

    async def store_outcomes(
        self,
        verification_id: str,
        outcomes: Sequence[SourceOutcome],
        now: datetime,
        *,
        stored: Collection[tuple[int, str]] | None = None,
    ) -> None:
        if not outcomes:
            return
        async with _guard():
            existing = (
                set(stored)
                if stored is not None
                else {
                    (m, s)
                    for m, s in await self.session.execute(
                        select(SourceOutcomeRow.member_index, SourceOutcomeRow.source).where(
                            SourceOutcomeRow.verification_id == verification_id
                        )
                    )
                }
            )
            values = [self._outcome_values(verification_id, o, now) for o in outcomes]
            new = [v for v in values if (v["member_index"], v["source"]) not in existing]
            changed = [v for v in values if (v["member_index"], v["source"]) in existing]
            if new:
                # One multi-row INSERT: a first report stores every member × source at once.
                await self.session.execute(insert(SourceOutcomeRow), new)
            for v in changed:
                await self.session.execute(
                    update(SourceOutcomeRow)
                    .where(
                        SourceOutcomeRow.verification_id == verification_id,
                        SourceOutcomeRow.member_index == v["member_index"],
                        SourceOutcomeRow.source == v["source"],
                    )
                    .values({k: val for k, val in v.items() if k not in _OUTCOME_KEY})
                )

    def _outcome(self, r: SourceOutcomeRow) -> SourceOutcome:
        records: tuple[Record, ...] = ()
        if r.records_sealed is not None:
            aad = f"source_outcomes/{r.verification_id}/{r.member_index}/{r.source}"
            records = records_from_json(
                json.loads(self._sealer.open(r.records_sealed, r.records_key_id, aad))
            )
        ticket = None
        if r.ticket_sealed is not None:
            aad = f"tickets/{r.verification_id}/{r.member_index}/{r.source}"
            ticket = self._sealer.open(r.ticket_sealed, r.records_key_id, aad).decode()
        return SourceOutcome(
            member_index=r.member_index,
            source=SourceKind(r.source),
            status=SourceStatus(r.status),
            adapter=r.adapter,
            adapter_version=r.adapter_version,
            as_of=r.as_of,
            records=records,
            reason=r.reason,
            attempts=r.attempts,
            ticket=ticket,
            due_at=r.due_at,
            reused=r.reused,
            fetched_at=r.fetched_at,
            overdue_flagged=r.overdue_flagged,
        )

    async def load_outcomes(self, verification_id: str) -> list[SourceOutcome]:
        async with _guard():
            rows = (
                await self.session.execute(
                    select(SourceOutcomeRow)
                    .where(SourceOutcomeRow.verification_id == verification_id)
                    .order_by(SourceOutcomeRow.member_index, SourceOutcomeRow.source)
                )
            ).scalars()
            return [self._outcome(r) for r in rows]

    async def lock_verification(self, verification_id: str) -> VerificationRecord | None:
        async with _guard():
            row = (
                await self.session.execute(
                    select(VerificationRow)
                    .where(VerificationRow.id == verification_id)
                    .with_for_update()
                )
            ).scalar_one_or_none()
        return _record(row) if row else None

    async def lease_polls(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[PollLease]:
        async with _guard():
            rows = (
                (
                    await self.session.execute(
                        select(SourceOutcomeRow)
                        .where(
                            SourceOutcomeRow.status == SourceStatus.PENDING.value,
                            SourceOutcomeRow.next_poll_at <= now,
                            or_(
                                SourceOutcomeRow.lease_until.is_(None),
                                SourceOutcomeRow.lease_until < now,
                            ),
                        )
                        .order_by(SourceOutcomeRow.next_poll_at)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            leases = []
            for r in rows:
                r.lease_owner = owner
                r.lease_until = until
                o = self._outcome(r)
                if o.ticket is None:
                    continue
                leases.append(
                    PollLease(
                        r.verification_id,
                        r.member_index,
                        r.source,
                        o.ticket,
                        r.poll_attempts,
                        r.due_at,
                        r.overdue_flagged,
                    )
                )
            await self.session.flush()
            return leases

    async def _leased_row(
        self, verification_id: str, member_index: int, source: str, owner: str
    ) -> SourceOutcomeRow | None:
        row = await self.session.get(
            SourceOutcomeRow, (verification_id, member_index, source), with_for_update=True
        )
        if row is None or row.status != SourceStatus.PENDING.value or row.lease_owner != owner:
            return None
        return row

    async def reschedule_poll(
        self, lease: PollLease, owner: str, next_poll_at: datetime, reason: str
    ) -> bool:
        async with _guard():
            row = await self._leased_row(
                lease.verification_id, lease.member_index, lease.source, owner
            )
            if row is None:
                return False
            row.lease_owner = None
            row.lease_until = None
            row.next_poll_at = next_poll_at
            row.poll_attempts = lease.poll_attempts + 1
            if reason:
                row.reason = reason
            await self.session.flush()
            return True

    async def holds_poll(
        self, verification_id: str, member_index: int, source: str, owner: str
    ) -> bool:
        async with _guard():
            return await self._leased_row(verification_id, member_index, source, owner) is not None

    async def has_due_work(self, now: datetime) -> bool:
        async with _guard():
            due_poll = select(SourceOutcomeRow.verification_id).where(
                SourceOutcomeRow.status == SourceStatus.PENDING.value,
                SourceOutcomeRow.next_poll_at <= now,
                or_(SourceOutcomeRow.lease_until.is_(None), SourceOutcomeRow.lease_until < now),
            )
            stale_run = select(VerificationRow.id).where(
                VerificationRow.state == VerificationState.RUNNING.value,
                VerificationRow.run_lease_until < now,
            )
            for q in (due_poll, stale_run):
                if (await self.session.execute(q.limit(1))).first() is not None:
                    return True
            return False

    async def claim_stale_runs(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[str]:
        async with _guard():
            rows = (
                (
                    await self.session.execute(
                        select(VerificationRow)
                        .where(
                            VerificationRow.state == VerificationState.RUNNING.value,
                            VerificationRow.run_lease_until < now,
                        )
                        .order_by(VerificationRow.run_lease_until)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            for r in rows:
                r.run_owner = owner
                r.run_lease_until = until
            await self.session.flush()
            return [r.id for r in rows]

    async def cached_results(
        self, keys: Sequence[tuple[str, str]], fetched_after: datetime
    ) -> dict[tuple[str, str], CachedResult]:
        if not keys:
            return {}
        async with _guard():
            rows = (
                await self.session.execute(
                    select(ResultCacheRow).where(
                        tuple_(ResultCacheRow.subject_ref, ResultCacheRow.source).in_(list(keys)),
                        ResultCacheRow.fetched_at > fetched_after,
                    )
                )
            ).scalars()
            out = {}
            for r in rows:
                plain = self._sealer.open(
                    r.records_sealed, r.key_id, f"result_cache/{r.subject_ref}/{r.source}"
                )
                out[(r.subject_ref, r.source)] = CachedResult(
                    r.subject_ref,
                    r.source,
                    r.status,
                    r.adapter,
                    r.adapter_version,
                    r.as_of,
                    r.fetched_at,
                    records_from_json(json.loads(plain)),
                    Window(r.window_start, r.window_end)
                    if r.window_start is not None and r.window_end is not None
                    else None,
                )
            return out

    async def announce_release(self, verification_id: str) -> None:
        async with _guard():
            await announce(self.session, verification_id)

    async def put_cached(self, results: Sequence[CachedResult]) -> None:
        async with _guard():
            for c in results:
                plain = json.dumps(records_to_json(c.records), ensure_ascii=False).encode()
                sealed, kid = self._sealer.seal(plain, f"result_cache/{c.subject_ref}/{c.source}")
                await self.session.merge(
                    ResultCacheRow(
                        subject_ref=c.subject_ref,
                        source=c.source,
                        status=c.status,
                        adapter=c.adapter,
                        adapter_version=c.adapter_version,
                        as_of=c.as_of,
                        fetched_at=c.fetched_at,
                        records_sealed=sealed,
                        key_id=kid,
                        window_start=c.window.start if c.window else None,
                        window_end=c.window.end if c.window else None,
                    )
                )
            await self.session.flush()

    async def outcome_summaries(self, verification_id: str) -> list[OutcomeSummary]:
        async with _guard():
            rows = (
                await self.session.execute(
                    select(SourceOutcomeRow)
                    .where(SourceOutcomeRow.verification_id == verification_id)
                    .order_by(SourceOutcomeRow.member_index, SourceOutcomeRow.source)
                )
            ).scalars()
            return [OutcomeSummary(r.member_index, r.source, r.status, r.reason) for r in rows]

    async def set_state(
        self,
        verification_id: str,
        state: VerificationState,
        completeness: Completeness | None,
        latest_version: int,
        now: datetime,
    ) -> None:
        async with _guard():
            result = await self.session.execute(
                update(VerificationRow)
                .where(VerificationRow.id == verification_id)
                .values(
                    state=state.value,
                    completeness=completeness.value if completeness else "",
                    latest_version=latest_version,
                    updated_at=now,
                )
            )
        if cast(CursorResult[Any], result).rowcount == 0:
            raise KeyError(verification_id)

    async def add_report(self, report: StoredReport) -> None:
        aad = f"reports/{report.verification_id}/{report.version}"
        sealed, kid = self._sealer.seal(report.envelope, aad)
        async with _guard():
            await self.session.execute(
                insert(ReportRow).values(
                    verification_id=report.verification_id,
                    version=report.version,
                    report_id=report.report_id,
                    envelope_sealed=sealed,
                    data_key_id=kid,
                    envelope_sha256=report.envelope_sha256,
                    previous_sha256=report.previous_sha256,
                    signing_key_id=report.signing_key_id,
                    completeness=report.completeness.value,
                    release_seq=report.release_seq,
                    summary_json=report.summary_json,
                    created_at=report.created_at,
                )
            )

    async def get_report(self, verification_id: str, version: int) -> StoredReport | None:
        q = select(ReportRow).where(ReportRow.verification_id == verification_id)
        q = (
            q.where(ReportRow.version == version)
            if version
            else q.order_by(ReportRow.version.desc()).limit(1)
        )
        async with _guard():
            row = (await self.session.execute(q)).scalars().first()
        if row is None:
            return None
        envelope = self._sealer.open(
            row.envelope_sealed, row.data_key_id, f"reports/{row.verification_id}/{row.version}"
        )
        return StoredReport(
            verification_id=row.verification_id,
            version=row.version,
            report_id=row.report_id,
            envelope=envelope,
            envelope_sha256=row.envelope_sha256,
            previous_sha256=row.previous_sha256,
            signing_key_id=row.signing_key_id,
            completeness=Completeness(row.completeness),
            release_seq=row.release_seq,
            summary_json=row.summary_json,
            created_at=row.created_at,
        )

    # ---------------------------------------------------------------- consents
    async def add_consent(
        self, doc: ConsentDoc, household_ref: str, subject_refs: Sequence[str], now: datetime
    ) -> None:
        plain = json.dumps(consent_doc_to_json(doc), ensure_ascii=False).encode()
        sealed, kid = self._sealer.seal(plain, f"consents/{doc.number}")
        self.session.add(
            ConsentRow(
                number=doc.number,
                region=doc.region,
                household_ref=household_ref,
                state=ConsentState.ACTIVE.value,
                sources=",".join(k.value for k in doc.sources),
                purposes=",".join(p.value for p in doc.purposes),
                valid_from=doc.valid_from,
                valid_until=doc.valid_until,
                evidence_sha256=doc.evidence_sha256,
                superseded_by="",
                registered_at=now,
                sealed=sealed,
                key_id=kid,
            )
        )
        async with _guard():
            await self.session.flush()
            await self.session.execute(
                insert(ConsentSubjectRow),
                [{"number": doc.number, "subject_ref": r} for r in sorted(set(subject_refs))],
            )

    async def get_consent(self, number: str) -> ConsentRecord | None:
        async with _guard():
            row = await self.session.get(ConsentRow, number)
            if row is None:
                return None
            refs = (
                await self.session.execute(
                    select(ConsentSubjectRow.subject_ref).where(ConsentSubjectRow.number == number)
                )
            ).scalars()
            return ConsentRecord(
                number=row.number,
                region=row.region,
                household_ref=row.household_ref,
                subject_refs=frozenset(refs),
                sources=frozenset(SourceKind(k) for k in row.sources.split(",") if k),
                purposes=frozenset(Purpose(p) for p in row.purposes.split(",") if p),
                valid_from=row.valid_from,
                valid_until=row.valid_until,
                state=ConsentState(row.state),
                superseded_by=row.superseded_by,
            )

    async def load_consent_doc(self, number: str) -> ConsentDoc:
        async with _guard():
            row = await self.session.get(ConsentRow, number)
        if row is None:
            raise KeyError(number)
        plain = self._sealer.open(row.sealed, row.key_id, f"consents/{number}")
        return consent_doc_from_json(json.loads(plain))

    async def consent_events(self, number: str) -> list[ConsentEvent]:
        async with _guard():
            rows = (
                await self.session.execute(
                    select(ConsentEventRow)
                    .where(ConsentEventRow.number == number)
                    .order_by(ConsentEventRow.id)
                )
            ).scalars()
            return [
                ConsentEvent(r.at, r.event, r.actor_system, r.actor_user, r.detail) for r in rows
            ]

    async def add_consent_event(self, number: str, event: ConsentEvent) -> None:
        self.session.add(
            ConsentEventRow(
                number=number,
                at=event.at,
                event=event.event,
                actor_system=event.actor_system,
                actor_user=event.actor_user,
                detail=event.detail,
            )
        )
        async with _guard():
            await self.session.flush()

    async def set_consent_state(
        self, number: str, state: ConsentState, superseded_by: str = ""
    ) -> None:
        async with _guard():
            await self.session.execute(
                update(ConsentRow)
                .where(ConsentRow.number == number)
                .values(state=state.value, superseded_by=superseded_by)
            )

    async def active_consents(self, region: str, household_ref: str) -> list[str]:
        async with _guard():
            return list(
                (
                    await self.session.execute(
                        select(ConsentRow.number)
                        .where(
                            ConsentRow.region == region,
                            ConsentRow.household_ref == household_ref,
                            ConsentRow.state == ConsentState.ACTIVE.value,
                        )
                        .with_for_update()
                    )
                ).scalars()
            )


class SqlStore(Store):
    """Units of work over ``db``; :meth:`write` goes through a group committer, so the
    writes of concurrent requests share transactions (one head lock, one flush)."""

    def __init__(self, db: Database, sealer: Sealer, audit_log: AuditLog | None = None) -> None:
        self.db = db
        self._sealer = sealer
        self._audit = audit_log or AuditLog()
        self._committer: GroupCommitter | None = None

    def unit_of_work(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, self._sealer, self._audit, write=write)

    async def write(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        if self._committer is None:
            self._committer = GroupCommitter(
                self.db.write_sessions,
                audit_log=self._audit,
                write_lock=self.db.write_lock if self.db.sqlite else None,
            )

        async def in_batch(session: AsyncSession) -> T:
            uow = SqlUnitOfWork(self.db, self._sealer, self._audit, write=True, shared=session)
            return await work(uow)

        async with _guard():
            _entries, result = await self._committer.submit((), in_batch)
        return cast(T, result)

    async def listen_releases(self, on_release: Callable[[str], None], stop: asyncio.Event) -> None:
        if self.db.sqlite:
            await super().listen_releases(on_release, stop)
        else:
            await listen(self.db.url, on_release, stop)

    async def ping(self) -> None:
        """Succeeds only if an audit append could run now: takes the head lock, rolls back."""
        async with self.unit_of_work(write=True) as uow, _guard():
            head = await uow.session.execute(
                select(AuditHeadRow.last_seq).where(AuditHeadRow.id == 1).with_for_update()
            )
            if head.one_or_none() is None:
                raise Unavailable("the audit head row is missing; run `hedui db upgrade`")

    async def aclose(self) -> None:
        if self._committer is not None:
            await self._committer.aclose()
        await self.db.dispose()
