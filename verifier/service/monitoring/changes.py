"""Changes between checks (动态管理): every report version of a household hedui has
checked before is compared with the previous check's latest report version.

The release transaction notes the check and the comparison it needs
(:func:`verifier.service.monitoring.hooks.on_version_released`), so none is lost to a
crash; the comparison itself runs after the release has committed, here or on any
replica (the pending row is locked with ``FOR UPDATE SKIP LOCKED``), in one transaction
of its own: the signed change document, its ``changes_recorded`` audit entry, and the
alerts its reason codes raise on the region's terms commit together. The document is
made (both versions verified, compared, signed) from a read just before that
transaction, which then only checks that what was read still holds
(:mod:`verifier.service.monitoring.comparison_inputs`): the write transaction, which the
process's other writes queue behind, carries no CPU work of its own.

A version whose sources are still PENDING gives a change document whose household
figures are withheld (see :mod:`verifier.domain.changes`); the next version compares
again and the alerts the new codes raise come then. A comparison still waiting when a
newer version of the same check is out is superseded by that version's: the final
version is the one compared.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from audit.entry import EntryDraft
from verifier.domain.alerts import AlertKind
from verifier.domain.errors import InvalidArgument, Unavailable
from verifier.domain.ports import (
    HouseholdCheck,
    PendingComparison,
    Store,
    StoredChanges,
    UnitOfWork,
)
from verifier.domain.vocabulary import AuditAction
from verifier.service.monitoring.comparison_inputs import (
    ComparisonInputs,
    MadeComparison,
    linked,
    make_document,
    still_holds,
)
from verifier.service.monitoring.comparison_inputs import roster_ref as roster_ref
from verifier.service.monitoring.raising import SYSTEM_ACTOR, AlertRaiser
from verifier.signing.changes import ChangeSigner, SignedChanges
from verifier.signing.dsse import EnvelopeError
from verifier.signing.jwks import PublicKey

log = structlog.get_logger("hedui.changes")

RECORDED = "recorded"
FIRST_CHECK = "first_check"
SUPERSEDED = "superseded"
REFUSED = "refused"
FAILED = "failed"

Keys = Callable[[], Mapping[str, PublicKey]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Compared:
    verification_id: str
    version: int
    outcome: str
    alerts: int = 0


def _alert_entries(changes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each reason code's entries, as alert details keep them: who (by keyed ref and
    index, never the masked ID), where, and the figures."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in changes:
        member = e.get("member")
        out.setdefault(e["code"], []).append(
            {
                "member_ref": member["subject_ref"] if member else None,
                "member_index": member["index_after"] if member else None,
                "source": e.get("source"),
                "program": e.get("program"),
                "category": e.get("category"),
                "before": e.get("before"),
                "after": e.get("after"),
            }
        )
    return out


class ChangeRecorder:
    def __init__(
        self,
        *,
        store: Store,
        signer: ChangeSigner,
        trusted_keys: Keys,
        pseudonym_key: bytes,
        raiser: AlertRaiser | None = None,
        clock: Callable[[], datetime] = _utcnow,
        retry_seconds: float = 60.0,
        max_attempts: int = 8,
        turn: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._signer = signer
        self._keys = trusted_keys
        self._pkey = pseudonym_key
        self._raiser = raiser or AlertRaiser(clock=clock)
        self._clock = clock
        self._retry = retry_seconds
        self._max_attempts = max_attempts
        self._wake = asyncio.Event()
        # Waited for before each comparison: the checks people wait for go first (see
        # verifier.service.turns). None: compare at once.
        self._turn = turn

    # ------------------------------------------------------------------ after a release
    def released(self) -> None:
        """After a release committed: compare now rather than at the next round."""
        self._wake.set()

    # ------------------------------------------------------------------ comparisons
    async def run_pending(self, limit: int = 64) -> list[Compared]:
        """Make the comparisons that are due, one transaction each, up to ``limit``."""
        done: list[Compared] = []
        # A read first: an idle replica must not take the write lock every round (on
        # SQLite that would queue every request behind it).
        async with self._store.unit_of_work(write=False) as uow:
            if not await uow.changes.has_pending(self._clock()):
                return done
        while len(done) < limit:
            if self._turn is not None:
                await self._turn()
            compared = await self._next()
            if compared is None:
                break
            done.append(compared)
        return done

    async def _next(self) -> Compared | None:
        now = self._clock()
        claimed: list[PendingComparison] = []
        made = await self._made_ahead(now)

        async def work(uow: UnitOfWork) -> Compared | None:
            jobs = []
            if made is not None:
                key = (made.job.verification_id, made.job.version)
                jobs = await uow.changes.pending(now, 1, only=key)
            if not jobs:
                jobs = await uow.changes.pending(now, 1)
            if not jobs:
                return None
            job = jobs[0]
            claimed.append(job)
            if made is not None and job == made.job:
                stored = await still_holds(uow, made)
                if stored is not None:
                    ref = made.inputs.check.roster_ref
                    if ref and not stored.roster_ref:
                        await uow.changes.set_roster_ref(stored.verification_id, ref)
                    return await self._record(
                        uow, job, made.inputs, made.document, made.signed, now
                    )
            return await self._compare(uow, job, now)

        try:
            return await self._store.write(work)
        except Unavailable:
            raise
        except Exception as exc:
            if not claimed:
                raise
            # Not a data problem we know: park it and try later, so one bad comparison
            # cannot stop the others.
            job = claimed[0]
            log.warning(
                "comparison_failed", verification_id=job.verification_id, error=type(exc).__name__
            )
            return await self._park(job, type(exc).__name__)

    async def _park(self, job: PendingComparison, why: str) -> Compared:
        now = self._clock()
        last = job.attempts + 1 >= self._max_attempts

        async def work(uow: UnitOfWork) -> None:
            if last:
                await uow.changes.finish(job.verification_id, job.version, FAILED, now)
            else:
                at = now + timedelta(seconds=self._retry * 2 ** min(job.attempts, 10))
                await uow.changes.retry_later(job.verification_id, job.version, at, why)

        await self._store.write(work)
        return Compared(job.verification_id, job.version, FAILED if last else "retry")

    async def _made_ahead(self, now: datetime) -> MadeComparison | None:
        """The next due comparison, made from a read before the write transaction, or
        None when there is none or it is not a plain one (those are made in the
        transaction, which settles them)."""
        async with self._store.unit_of_work(write=False) as uow:
            jobs = await uow.changes.pending(now, 1)
            if not jobs:
                return None
            got, _check = await self._inputs(uow, jobs[0])
        if not isinstance(got, ComparisonInputs):
            return None
        try:
            document, signed = make_document(got, self._keys(), self._signer)
        except (EnvelopeError, InvalidArgument):
            return None  # refused in the transaction, where the refusal is recorded
        return MadeComparison(jobs[0], got, document, signed)

    async def _inputs(
        self, uow: UnitOfWork, job: PendingComparison
    ) -> tuple[ComparisonInputs | str, HouseholdCheck | None]:
        """What the comparison of ``job`` reads, or the outcome that settles it unmade;
        and the check with its roster link once that is known (reads only)."""
        vid, version = job.verification_id, job.version
        check = await uow.changes.check(vid)
        record = await uow.verifications.get(vid)
        if check is None or record is None:
            return FAILED, None
        if record.latest_version > version:
            # The comparison of the newer version is noted too: that one is made.
            return SUPERSEDED, None
        check = await linked(uow, check, record.request_id, self._pkey)
        previous = await uow.changes.previous_check(check)
        if previous is None:
            return FIRST_CHECK, check
        before = await uow.reports.get(previous.verification_id, 0)
        after = await uow.reports.get(vid, version)
        if before is None or after is None:
            return FAILED, check
        return ComparisonInputs(check, record, previous, before, after), check

    async def _store_link(self, uow: UnitOfWork, check: HouseholdCheck) -> None:
        """A re-check the roster's scheduler started names its roster entry: stored, so
        that its successors find it even if the household's applicant changes."""
        stored = await uow.changes.check(check.verification_id)
        if check.roster_ref and stored is not None and not stored.roster_ref:
            await uow.changes.set_roster_ref(check.verification_id, check.roster_ref)

    async def _compare(self, uow: UnitOfWork, job: PendingComparison, now: datetime) -> Compared:
        """The whole comparison inside the write transaction."""
        got, check = await self._inputs(uow, job)
        if check is not None:  # kept even for a first check: its successors need it
            await self._store_link(uow, check)
        if not isinstance(got, ComparisonInputs):
            return await self._finish(uow, job, got, now)
        try:
            document, signed = make_document(got, self._keys(), self._signer)
        except (EnvelopeError, InvalidArgument) as exc:
            log.warning(
                "comparison_refused", verification_id=job.verification_id, error=type(exc).__name__
            )
            return await self._finish(uow, job, REFUSED, now)
        return await self._record(uow, job, got, document, signed, now)

    async def _finish(
        self, uow: UnitOfWork, job: PendingComparison, outcome: str, now: datetime
    ) -> Compared:
        await uow.changes.finish(job.verification_id, job.version, outcome, now)
        return Compared(job.verification_id, job.version, outcome)

    async def _record(
        self,
        uow: UnitOfWork,
        job: PendingComparison,
        inputs: ComparisonInputs,
        document: dict[str, Any],
        signed: SignedChanges,
        now: datetime,
    ) -> Compared:
        """The write half: the change document, its audit entry and its alerts."""
        vid, version = job.verification_id, job.version
        check, record, previous = inputs.check, inputs.record, inputs.previous
        before, after = inputs.before, inputs.after
        changes: list[dict[str, Any]] = list(document["changes"])
        codes = tuple(dict.fromkeys(e["code"] for e in changes))
        prev_doc = document["previous"]
        entries = await uow.audit.append(
            [
                EntryDraft(
                    actor=SYSTEM_ACTOR,
                    action=AuditAction.CHANGES_RECORDED.value,
                    outcome=RECORDED,
                    case_id=record.case_id,
                    verification_id=vid,
                    subject_refs=(check.household_ref,),
                    details={
                        "version": version,
                        "envelope_sha256": signed.envelope_sha256,
                        "key_id": signed.key_id,
                        "current_sha256": after.envelope_sha256,
                        "previous": {
                            "verification_id": previous.verification_id,
                            "version": before.version,
                            "envelope_sha256": before.envelope_sha256,
                        },
                        "codes": list(codes),
                        "household_figures_compared": document["household_figures_compared"],
                        "withheld": len(document["withheld"]),
                    },
                )
            ]
        )
        await uow.changes.add(
            StoredChanges(
                verification_id=vid,
                version=version,
                region=check.region,
                household_ref=check.household_ref,
                previous_verification_id=previous.verification_id,
                previous_version=before.version,
                previous_report_id=str(prev_doc["report_id"]),
                previous_sha256=before.envelope_sha256,
                current_report_id=after.report_id,
                current_sha256=after.envelope_sha256,
                envelope=signed.envelope,
                envelope_sha256=signed.envelope_sha256,
                key_id=signed.key_id,
                codes=codes,
                household_figures_compared=bool(document["household_figures_compared"]),
                withheld=len(document["withheld"]),
                created_at=now,
                record_seq=entries[0].seq,
            )
        )
        raised = 0
        for code, found in _alert_entries(changes).items():
            alert = await self._raiser.raise_for(
                uow,
                kind=AlertKind.CHANGE,
                reason=code,
                region=check.region,
                # One alert per check and reason: a later version that finds the same
                # change again raises nothing new.
                dedup_key=f"change:{vid}:{code}",
                household_ref=check.household_ref,
                verification_id=vid,
                report_version=version,
                case_id=record.case_id,
                details={
                    "change_document": {
                        "verification_id": vid,
                        "version": version,
                        "envelope_sha256": signed.envelope_sha256,
                    },
                    "previous_verification_id": previous.verification_id,
                    "changes": found,
                },
                now=now,
            )
            raised += 1 if alert is not None and alert.created else 0
        await uow.changes.finish(vid, version, RECORDED, now)
        log.info(
            "changes_recorded",
            verification_id=vid,
            version=version,
            codes=len(codes),
            alerts=raised,
        )
        return Compared(vid, version, RECORDED, raised)

    # ------------------------------------------------------------------ background
    async def run(self, stop: asyncio.Event, interval: float = 2.0) -> None:
        """Make due comparisons until ``stop`` is set; idle rounds wait ``interval`` or
        until :meth:`released` wakes them."""
        while not stop.is_set():
            self._wake.clear()
            try:
                done = await self.run_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A database outage must not end the loop: the comparisons wait in the
                # database for the next round, here or on another replica.
                log.warning("comparison_round_failed", error=type(exc).__name__)
                done = []
            if not done:
                waits = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self._wake.wait()),
                ]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED), interval
                    )
                for w in waits:
                    w.cancel()
                await asyncio.gather(*waits, return_exceptions=True)


__all__ = ["ChangeRecorder", "Compared"]
