"""Changes between checks on in-memory fakes: the real release path notes each report
version, the recorder compares it with the household's previous check, signs the change
document, audits it and raises the alerts its codes call for on the region's terms.

Sources are in-process tables the tests change between checks; reports are assessed
under the packaged 高青 (370322) policy and signed for real.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import (
    Adapter,
    AssetCategory,
    AssetRecord,
    IncomeCategory,
    IncomeRecord,
    PermanentSourceError,
    Provenance,
    Record,
    SourceKind,
    SourceQuery,
    SourceResult,
)
from tests.fakes import AllowAllConsents, InMemoryStore
from tests.fakes.watched import WatchedStore
from tests.helpers import APPLICANT_ID, CALLER, CHILD_ID, SPOUSE_ID, household_draft, soon
from tests.pii import PiiScanner
from verifier.domain.alerts import AlertKind, AlertQuery, AlertRecord, RiskLevel
from verifier.domain.changes import ChangeCode
from verifier.domain.household import Purpose
from verifier.domain.ports import UnitOfWork
from verifier.domain.workdays import add_working_days
from verifier.service.assessment import assess_report_sections
from verifier.service.fanout import FanOut, bind_sources
from verifier.service.monitoring.changes import (
    FIRST_CHECK,
    RECORDED,
    REFUSED,
    SUPERSEDED,
    ChangeRecorder,
)
from verifier.service.monitoring.raising import AlertRaiser
from verifier.service.poller import Poller
from verifier.service.verifications import VerificationService
from verifier.signing.changes import ChangeSigner, SignedChanges, verify_changes
from verifier.signing.jwks import key_id
from verifier.signing.signer import ReportSigner

PSEUDONYM_KEY = bytes(range(32))
AS_OF = datetime(2026, 10, 31, tzinfo=UTC)
NAMES = ("测试甲", "测试乙", "测试丙")
HOUR = timedelta(hours=1)


class TableAdapter:
    """A source answering from a table of records by ID number; the tests change the
    table between checks. ``pending`` makes it answer later (a bank): a ticket now,
    the table's answer once ``ready`` is set."""

    version = "1.0-test"

    def __init__(self, source: SourceKind, *, pending: bool = False) -> None:
        self.source = source
        self.name = f"table-{source.value}"
        self.table: dict[str, list[Record]] = {}
        self.pending = pending
        self.ready = asyncio.Event()
        self.calls = 0
        self._tickets: dict[str, str] = {}

    def prov(self, n: int) -> Provenance:
        return Provenance(self.source.value, self.name, self.version, f"R{n}", AS_OF)

    def _answer(self, number: str) -> SourceResult:
        records = self.table.get(number)
        return SourceResult.found(records, AS_OF) if records else SourceResult.not_found(AS_OF)

    async def query(self, q: SourceQuery) -> SourceResult:
        self.calls += 1
        if self.pending:
            ticket = f"T{self.calls}"
            self._tickets[ticket] = q.subject.id_number
            return SourceResult.pending(ticket, retry_after=0.01)
        return self._answer(q.subject.id_number)

    async def poll(self, ticket: str) -> SourceResult:
        if ticket not in self._tickets:
            raise PermanentSourceError("unknown ticket")
        if not self.ready.is_set():
            return SourceResult.pending(ticket, retry_after=0.01)
        return self._answer(self._tickets[ticket])

    async def aclose(self) -> None:
        pass


def wage(src: TableAdapter, yearly_fen: int) -> list[Record]:
    window_start, window_end = date(2025, 11, 1), date(2026, 10, 31)
    return [
        IncomeRecord(
            IncomeCategory.WAGES, "salary", window_start, window_end, yearly_fen, src.prov(1)
        )
    ]


def car(src: TableAdapter) -> list[Record]:
    return [
        AssetRecord(AssetCategory.VEHICLE, "car", 9_000_000, src.prov(2), 1, None, {"plate": "X"})
    ]


@dataclass
class Rig:
    store: InMemoryStore
    service: VerificationService
    recorder: ChangeRecorder
    sources: dict[SourceKind, TableAdapter]
    fanout: FanOut
    keys: dict[str, Any]
    checks: list[str] = field(default_factory=list)

    async def check(self, n: int) -> str:
        view = await self.service.create(
            CALLER,
            household_draft(
                request_id=f"req-{n}",
                purposes=(Purpose.DIBAO, Purpose.DIBAO_BIANYUAN),
                window_start="2025-11-01",
                window_end="2026-10-31",
            ),
            wait=True,
            wait_until=soon(),
        )
        self.checks.append(view.record.id)
        return view.record.id

    async def alerts(self) -> list[AlertRecord]:
        async with self.store.unit_of_work(write=False) as uow:
            return await uow.alerts.find(AlertQuery(("37",), datetime.now(UTC), 100))

    def entries(self, action: str) -> list[dict[str, Any]]:
        return [e for e in self.store.entries() if e["action"] == action]


def make_rig(
    *,
    bank_pending: bool = False,
    keys: Mapping[str, Any] | None = None,
    store: InMemoryStore | None = None,
    change_signer: Callable[[Ed25519PrivateKey], ChangeSigner] = ChangeSigner,
) -> Rig:
    store = store or InMemoryStore()
    sources = {
        SourceKind.TAX: TableAdapter(SourceKind.TAX),
        SourceKind.VEHICLE: TableAdapter(SourceKind.VEHICLE),
        SourceKind.BANK: TableAdapter(SourceKind.BANK, pending=bank_pending),
    }
    report_key = Ed25519PrivateKey.generate()
    trusted = (
        dict(keys)
        if keys is not None
        else {key_id(report_key.public_key()): report_key.public_key()}
    )
    fanout = FanOut(bind_sources(dict[SourceKind, Adapter](sources), {}))
    service = VerificationService(
        store=store,
        fanout=fanout,
        signer=ReportSigner(report_key),
        pseudonym_key=PSEUDONYM_KEY,
        deadline_seconds=5.0,
        assessor=assess_report_sections,
        consents=AllowAllConsents(),
    )
    recorder = ChangeRecorder(
        store=store,
        signer=change_signer(report_key),
        trusted_keys=lambda: trusted,
        pseudonym_key=PSEUDONYM_KEY,
        raiser=AlertRaiser(),
    )
    return Rig(store, service, recorder, sources, fanout, trusted)


@pytest.fixture
async def rigs() -> AsyncIterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        await rig.service.aclose()


async def test_a_first_check_has_nothing_to_compare(rigs: list[Rig]) -> None:
    rigs.append(rig := make_rig())
    vid = await rig.check(1)
    done = await rig.recorder.run_pending()
    assert [(c.verification_id, c.version, c.outcome) for c in done] == [(vid, 1, FIRST_CHECK)]
    assert await rig.recorder.run_pending() == []
    assert rig.entries("changes_recorded") == [] and await rig.alerts() == []


async def test_a_household_whose_data_did_not_change_gets_an_empty_document_and_no_alert(
    rigs: list[Rig],
) -> None:
    rigs.append(rig := make_rig())
    rig.sources[SourceKind.TAX].table[APPLICANT_ID] = wage(rig.sources[SourceKind.TAX], 600_000)
    first = await rig.check(1)
    second = await rig.check(2)
    done = await rig.recorder.run_pending()
    assert [(c.verification_id, c.outcome) for c in done] == [
        (first, FIRST_CHECK),
        (second, RECORDED),
    ]
    async with rig.store.unit_of_work(write=False) as uow:
        stored = await uow.changes.get(second, 1)
    assert stored is not None and stored.codes == () and stored.household_figures_compared
    doc = verify_changes(stored.envelope, rig.keys).document
    assert doc["changes"] == [] and doc["previous"]["verification_id"] == first
    (entry,) = rig.entries("changes_recorded")
    assert entry["verification_id"] == second and entry["details"]["codes"] == []
    assert entry["seq"] == stored.record_seq
    assert await rig.alerts() == [] and rig.entries("alert_raised") == []


async def test_a_pay_rise_and_a_new_car_raise_their_alerts_on_the_regions_terms(
    rigs: list[Rig],
) -> None:
    rigs.append(rig := make_rig())
    tax, vehicle = rig.sources[SourceKind.TAX], rig.sources[SourceKind.VEHICLE]
    tax.table[APPLICANT_ID] = wage(tax, 600_000)
    await rig.check(1)
    tax.table[APPLICANT_ID] = wage(tax, 12_000_000)  # far above the 低保 standard
    vehicle.table[SPOUSE_ID] = car(vehicle)
    second = await rig.check(2)
    await rig.recorder.run_pending()

    async with rig.store.unit_of_work(write=False) as uow:
        stored = await uow.changes.get(second, 1)
    assert stored is not None
    codes = set(stored.codes)
    assert {
        ChangeCode.INCOME_ABOVE_DIBAO_STANDARD,
        ChangeCode.VEHICLE_ADDED,
        ChangeCode.PROGRAM_BECAME_INELIGIBLE,
    } <= codes
    alerts = {a.reason: a for a in await rig.alerts()}
    assert set(alerts) == codes  # the packaged region ranks every code
    income = alerts[ChangeCode.INCOME_ABOVE_DIBAO_STANDARD]
    car_alert = alerts[ChangeCode.VEHICLE_ADDED]
    today = income.created_at.astimezone(income.deadline.tzinfo if income.deadline else UTC)
    assert (income.kind, income.risk_level) == (AlertKind.CHANGE, RiskLevel.HIGH)
    assert income.act_by == add_working_days(today.date(), 5)
    assert car_alert.risk_level is RiskLevel.MEDIUM
    assert car_alert.verification_id == second and car_alert.report_version == 1
    assert car_alert.details["changes"][0]["member_index"] == 1
    assert car_alert.details["basis"]["risk"]["parameter"] == "alert_medium_risk_reasons"
    assert len(rig.entries("alert_raised")) == len(alerts)
    # Nothing personal in the document, the alerts or the log.
    scanner = PiiScanner([APPLICANT_ID, SPOUSE_ID, CHILD_ID], NAMES)
    assert scanner.data(stored.envelope, "change document") == []
    assert scanner.text(json.dumps([a.details for a in alerts.values()]), "alerts") == []
    assert scanner.text(json.dumps(rig.store.entries(), ensure_ascii=False), "audit log") == []


async def test_pending_sources_withhold_the_household_and_the_final_version_compares(
    rigs: list[Rig],
) -> None:
    rigs.append(rig := make_rig(bank_pending=True))
    tax, bank = rig.sources[SourceKind.TAX], rig.sources[SourceKind.BANK]
    tax.table[APPLICANT_ID] = wage(tax, 600_000)
    bank.ready.set()
    first = await rig.check(1)
    await _late_versions(rig, first, 2)
    bank.ready.clear()
    tax.table[APPLICANT_ID] = wage(tax, 12_000_000)
    second = await rig.check(2)
    done = {(c.verification_id, c.version): c.outcome for c in await rig.recorder.run_pending()}
    # version 1 of the first check was superseded by its version 2 before it was compared
    assert done[(first, 1)] == SUPERSEDED and done[(first, 2)] == FIRST_CHECK
    assert done[(second, 1)] == RECORDED
    async with rig.store.unit_of_work(write=False) as uow:
        v1 = await uow.changes.get(second, 1)
    assert v1 is not None and not v1.household_figures_compared and v1.withheld == 3
    assert ChangeCode.INCOME_ABOVE_DIBAO_STANDARD not in v1.codes
    assert [a.reason for a in await rig.alerts()] == []
    # The bank answers: version 2 compares the household and raises the alerts.
    bank.ready.set()
    await _late_versions(rig, second, 2)
    done2 = await rig.recorder.run_pending()
    assert [(c.verification_id, c.version, c.outcome) for c in done2] == [(second, 2, RECORDED)]
    async with rig.store.unit_of_work(write=False) as uow:
        v2 = await uow.changes.get(second, 2)
    assert v2 is not None and v2.household_figures_compared
    assert ChangeCode.INCOME_ABOVE_DIBAO_STANDARD in v2.codes
    reasons = {a.reason: a for a in await rig.alerts()}
    assert reasons[ChangeCode.INCOME_ABOVE_DIBAO_STANDARD].report_version == 2


async def _late_versions(rig: Rig, vid: str, version: int) -> None:
    """Poller rounds (an hour ahead, so every poll is due) until the check has released
    ``version``: the bank answered."""
    poller = Poller(rig.service, rig.store, rig.fanout, clock=lambda: datetime.now(UTC) + HOUR)
    for _ in range(20):
        await poller.tick()
        async with rig.store.unit_of_work(write=False) as uow:
            record = await uow.verifications.get(vid)
        if record is not None and record.latest_version >= version:
            return
    raise AssertionError(f"version {version} was not released")


async def test_a_report_that_does_not_verify_is_refused_not_compared(rigs: list[Rig]) -> None:
    rigs.append(rig := make_rig(keys={}))
    await rig.check(1)
    second = await rig.check(2)
    done = {c.verification_id: c.outcome for c in await rig.recorder.run_pending()}
    assert done[second] == REFUSED
    assert rig.entries("changes_recorded") == [] and await rig.alerts() == []


async def test_alerts_are_raised_once_per_check_and_code(rigs: list[Rig]) -> None:
    rigs.append(rig := make_rig())
    vehicle = rig.sources[SourceKind.VEHICLE]
    await rig.check(1)
    vehicle.table[APPLICANT_ID] = car(vehicle)
    second = await rig.check(2)
    await rig.recorder.run_pending()

    async def again(uow: UnitOfWork) -> None:
        # a comparison noted twice (a retried release) is one comparison
        check = await uow.changes.check(second)
        assert check is not None
        await uow.changes.note_release(check, 1, datetime.now(UTC))

    await rig.store.write(again)
    assert await rig.recorder.run_pending() == []
    # a car is over the region's vehicle limit: 低保 becomes ineligible too
    assert sorted(a.reason for a in await rig.alerts()) == [
        ChangeCode.PROGRAM_BECAME_INELIGIBLE.value,
        ChangeCode.VEHICLE_ADDED.value,
    ]


async def test_a_re_check_from_the_roster_finds_the_household_when_the_applicant_changed(
    rigs: list[Rig],
) -> None:
    """After the applicant's death the spouse applies: the applicant's ref differs, the
    roster entry both re-checks came from links them."""
    from dataclasses import replace as copy

    from tests.fakes.roster import JobRow
    from verifier.domain.household import MemberDraft, Relation
    from verifier.domain.roster import JobState, RecheckJob
    from verifier.service.monitoring.changes import roster_ref

    rigs.append(rig := make_rig())
    vehicle = rig.sources[SourceKind.VEHICLE]

    def job(request_id: str, cycle: date) -> None:
        """The roster's job of a re-check, as its scheduler would have stored it."""
        rig.store.tables.roster.jobs[request_id] = JobRow(
            RecheckJob(
                id=request_id,
                entry_id="entry-1",
                region="370322",
                household_ref="HH-0042",
                cycle_due=cycle,
                state=JobState.STARTED,
                request_id=request_id,
                attempts=1,
            )
        )

    job("recheck-a", date(2026, 1, 1))
    first = await rig.service.create(
        CALLER,
        household_draft(request_id="recheck-a", purposes=(Purpose.DIBAO,)),
        wait=True,
        wait_until=soon(),
    )
    vehicle.table[SPOUSE_ID] = car(vehicle)
    base = household_draft(request_id="recheck-b", purposes=(Purpose.DIBAO,))
    applicant, spouse, child = base.members
    reordered = copy(
        base,
        members=(
            copy(spouse, relation=Relation.APPLICANT),
            copy(child, relation=Relation.CHILD),
            MemberDraft(applicant.id_type, applicant.id_number, applicant.name, Relation.SPOUSE),
        ),
    )
    job("recheck-b", date(2027, 1, 1))
    second = await rig.service.create(CALLER, reordered, wait=True, wait_until=soon())
    done = {c.verification_id: c.outcome for c in await rig.recorder.run_pending()}
    assert done == {first.record.id: FIRST_CHECK, second.record.id: RECORDED}
    async with rig.store.unit_of_work(write=False) as uow:
        stored = await uow.changes.get(second.record.id, 1)
        linked = await uow.changes.check(first.record.id)
    key = roster_ref(PSEUDONYM_KEY, "370322", "HH-0042")
    assert linked is not None and linked.roster_ref == key
    assert stored is not None and stored.previous_verification_id == first.record.id
    doc = verify_changes(stored.envelope, rig.keys).document
    assert doc["household"]["household_ref"] == key
    assert ChangeCode.VEHICLE_ADDED in stored.codes


class WatchedSigner(ChangeSigner):
    """Notes, for every change document it signs, whether a write was running."""

    def __init__(self, key: Ed25519PrivateKey, store: WatchedStore) -> None:
        super().__init__(key)
        self.store = store
        self.signed_in_write: list[bool] = []

    def sign(self, document: Mapping[str, Any]) -> SignedChanges:
        self.signed_in_write.append(self.store.writing)
        return super().sign(document)


def watched_rig() -> tuple[Rig, WatchedStore, list[WatchedSigner]]:
    store = WatchedStore()
    signers: list[WatchedSigner] = []

    def signer(key: Ed25519PrivateKey) -> ChangeSigner:
        signers.append(WatchedSigner(key, store))
        return signers[-1]

    return make_rig(store=store, change_signer=signer), store, signers


async def test_the_change_document_is_made_before_the_write_transaction(
    rigs: list[Rig],
) -> None:
    """The write every other write of the process queues behind holds no verifying or
    signing: the document is made from a read, and the write only stores it."""
    rig, _store, (signer,) = watched_rig()
    rigs.append(rig)
    rig.sources[SourceKind.TAX].table[APPLICANT_ID] = wage(rig.sources[SourceKind.TAX], 600_000)
    await rig.check(1)
    second = await rig.check(2)
    done = {c.verification_id: c.outcome for c in await rig.recorder.run_pending()}
    assert done[second] == RECORDED
    assert signer.signed_in_write == [False]
    (entry,) = rig.entries("changes_recorded")
    async with rig.store.unit_of_work(write=False) as uow:
        stored = await uow.changes.get(second, 1)
    assert stored is not None and entry["details"]["envelope_sha256"] == stored.envelope_sha256
    assert verify_changes(stored.envelope, rig.keys).document["previous"]["version"] == 1


async def test_a_comparison_made_ahead_is_settled_afresh_if_its_check_moved_on(
    rigs: list[Rig],
) -> None:
    """A newer version released between the read and the write (a late source, another
    process): the document made ahead is dropped, and the comparison is settled in the
    transaction — superseded by the newer version's."""
    rig, store, (signer,) = watched_rig()
    rigs.append(rig)
    await rig.check(1)
    assert [c.outcome for c in await rig.recorder.run_pending()] == [FIRST_CHECK]
    second = await rig.check(2)
    async with rig.store.unit_of_work(write=False) as uow:
        record = await uow.verifications.get(second)
    assert record is not None

    async def newer_version(uow: UnitOfWork) -> None:
        await uow.verifications.set_state(
            second, record.state, record.completeness, 2, datetime.now(UTC)
        )

    store.before_write = newer_version
    done = await rig.recorder.run_pending()
    assert [(c.verification_id, c.outcome) for c in done] == [(second, SUPERSEDED)]
    assert signer.signed_in_write == [False]  # made ahead, then not used
    assert rig.entries("changes_recorded") == []


async def test_each_comparison_waits_for_its_turn_on_the_event_loop(rigs: list[Rig]) -> None:
    rigs.append(rig := make_rig())
    turns: list[int] = []

    async def turn() -> None:
        # Whether a comparison was still to be made each time a turn was asked for.
        async with rig.store.unit_of_work(write=False) as uow:
            turns.append(0 if await uow.changes.has_pending(datetime.now(UTC)) else -1)

    rig.recorder = ChangeRecorder(
        store=rig.store,
        signer=ChangeSigner(Ed25519PrivateKey.generate()),
        trusted_keys=lambda: rig.keys,
        pseudonym_key=PSEUDONYM_KEY,
        turn=turn,
    )
    await rig.check(1)
    await rig.check(2)
    done = await rig.recorder.run_pending()
    assert len(done) == 2
    # Asked before each comparison (and once more, finding none left to make).
    assert turns == [0, 0, -1]
