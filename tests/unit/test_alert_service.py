"""The alert use cases on in-memory fakes: the lifecycle and its history, refusals (bad
filter, wrong role or region, bad resolution) that write nothing but their denial,
keyset pages with tamper-checked tokens, overdue computed on read and marked once by the
sweep, and warnings: an alert for a person a 授权书 covers, an outreach ledger entry for
anyone else, never twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hedui_sdk import IdType, Subject
from tests.fakes import InMemoryStore, synthetic_id
from verifier.domain.alerts import (
    AlertKind,
    AlertState,
    Department,
    ReferralProgram,
    Resolution,
    RiskLevel,
    WarningReason,
)
from verifier.domain.alerts.warnings import WarningDraft, validate_warnings
from verifier.domain.caller import Caller
from verifier.domain.changes import ChangeCode
from verifier.domain.consent import ConsentDoc, ConsentState, ConsentSubject
from verifier.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from verifier.domain.household import Purpose, Relation
from verifier.domain.ports import UnitOfWork
from verifier.domain.pseudonym import subject_ref
from verifier.service.monitoring.alerts import AlertFilter, AlertService
from verifier.service.monitoring.raising import AlertRaiser
from verifier.service.page_tokens import PageTokens

PKEY = bytes(range(32))
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in China, a Tuesday
WORKER = Caller("case-a", "worker-1", "caseworker", ("3703",))
REVIEWER = Caller("case-a", "reviewer-1", "reviewer", ("370322",))
ADMIN = Caller("ops", "admin-1", "admin", ("37",))
AUDITOR = Caller("audit", "auditor-1", "auditor", ("37",))
ELSEWHERE = Caller("case-b", "worker-9", "caseworker", ("3418",))
HREF = "a" * 64
APPLICANT = Subject(IdType.RESIDENT_ID, synthetic_id(seq=21), "测试甲")
SPOUSE = Subject(IdType.RESIDENT_ID, synthetic_id(seq=22), "测试乙")
STRANGER = Subject(IdType.RESIDENT_ID, synthetic_id(seq=23), "测试丙")


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Rig:
    store: InMemoryStore
    service: AlertService
    raiser: AlertRaiser
    clock: Clock

    def actions(self) -> list[str]:
        return [e["action"] for e in self.store.entries()]

    def entries(self, action: str) -> list[dict[str, Any]]:
        return [e for e in self.store.entries() if e["action"] == action]

    async def change_alert(self, code: ChangeCode, key: str, region: str = "370322") -> str:
        async def work(uow: UnitOfWork) -> str:
            raised = await self.raiser.raise_for(
                uow,
                kind=AlertKind.CHANGE,
                reason=code.value,
                region=region,
                dedup_key=key,
                household_ref=HREF,
            )
            assert raised is not None
            return raised.alert.id

        return await self.store.write(work)


@pytest.fixture
def rig() -> Rig:
    clock = Clock()
    store = InMemoryStore(clock=clock)
    raiser = AlertRaiser(clock=clock)
    return Rig(
        store,
        AlertService(store, PKEY, PageTokens.derived(PKEY), raiser=raiser, clock=clock),
        raiser,
        clock,
    )


# ---------------------------------------------------------------------- lifecycle
async def test_open_acknowledged_resolved_with_history_and_audit(rig: Rig) -> None:
    alert_id = await rig.change_alert(ChangeCode.HUKOU_CANCELLED, "k1")
    rig.clock.now = T0 + timedelta(hours=1)
    acked = await rig.service.acknowledge(WORKER, alert_id, note="去户籍地核实")
    assert (acked.alert.state, acked.alert.owner) == (AlertState.ACKNOWLEDGED, "worker-1")
    assigned = await rig.service.assign(REVIEWER, alert_id, "worker-2")
    assert (assigned.alert.state, assigned.alert.owner) == (AlertState.ACKNOWLEDGED, "worker-2")
    done = await rig.service.resolve(
        REVIEWER, alert_id, Resolution.REFERRED, ReferralProgram.LINSHI, note="转临时救助"
    )
    assert done.alert.state is AlertState.RESOLVED
    assert (done.alert.resolution, done.alert.referred_program) == (
        Resolution.REFERRED,
        ReferralProgram.LINSHI,
    )
    assert [(e.event, e.actor_user) for e in done.history] == [
        ("raised", ""),
        ("acknowledged", "worker-1"),
        ("assigned", "reviewer-1"),
        ("resolved", "reviewer-1"),
    ]
    assert done.history[-1].detail == "referred: linshi; 转临时救助"
    assert rig.actions() == ["alert_raised", "alert_acknowledge", "alert_assign", "alert_resolve"]
    resolve = rig.entries("alert_resolve")[0]
    assert resolve["subject_refs"] == [HREF]
    assert (
        resolve["details"]["resolution"] == "referred" and resolve["details"]["program"] == "linshi"
    )
    # A resolved alert takes no further step; nothing is written for the refusal.
    with pytest.raises(FailedPrecondition):
        await rig.service.acknowledge(WORKER, alert_id)
    with pytest.raises(FailedPrecondition):
        await rig.service.assign(WORKER, alert_id, "worker-3")
    with pytest.raises(FailedPrecondition):
        await rig.service.resolve(WORKER, alert_id, Resolution.NO_CHANGE)
    assert len(rig.actions()) == 4


async def test_a_resolution_is_checked_before_anything_is_written(rig: Rig) -> None:
    alert_id = await rig.change_alert(ChangeCode.VEHICLE_ADDED, "k1")
    cases: list[tuple[Resolution | None, ReferralProgram | None, str, str]] = [
        (None, None, "", "resolution"),
        (Resolution.REFERRED, None, "", "program"),
        (Resolution.NO_CHANGE, ReferralProgram.DIBAO, "", "program"),
        (Resolution.CONFIRMED, None, "line\nbreak", "note"),
        (Resolution.CONFIRMED, None, "身份证 " + synthetic_id(seq=5), "note"),
    ]
    for resolution, program, note, field in cases:
        with pytest.raises(InvalidArgument) as err:
            await rig.service.resolve(WORKER, alert_id, resolution, program, note)
        assert [v.field for v in err.value.violations] == [field]
    with pytest.raises(InvalidArgument) as err2:
        await rig.service.assign(WORKER, alert_id, "has space")
    assert err2.value.violations[0].field == "owner"
    with pytest.raises(InvalidArgument):
        await rig.service.get(WORKER, "not-an-id")
    # A malformed id is INVALID_ARGUMENT whoever asks: checked before the role.
    with pytest.raises(InvalidArgument):
        await rig.service.get(AUDITOR, "not-an-id")
    with pytest.raises(InvalidArgument):
        await rig.service.acknowledge(ADMIN, alert_id.upper())
    assert rig.actions() == ["alert_raised"]


async def test_role_and_region_refusals_write_one_denial(rig: Rig) -> None:
    alert_id = await rig.change_alert(ChangeCode.VEHICLE_ADDED, "k1")
    with pytest.raises(PermissionDenied) as denied:
        await rig.service.list_alerts(AUDITOR, AlertFilter())
    assert denied.value.reason == "ROLE_NOT_ALLOWED"
    with pytest.raises(PermissionDenied):
        await rig.service.acknowledge(ADMIN, alert_id)
    with pytest.raises(PermissionDenied) as out:
        await rig.service.list_alerts(ELSEWHERE, AlertFilter(region_prefix="3703"))
    assert out.value.reason == "OUT_OF_REGION"
    with pytest.raises(NotFound):
        await rig.service.get(ELSEWHERE, alert_id)
    with pytest.raises(NotFound):
        await rig.service.resolve(ELSEWHERE, alert_id, Resolution.NO_CHANGE)
    denials = [(e["action"], e["outcome"], e["reason"]) for e in rig.store.entries()[1:]]
    assert denials == [
        ("alert_read", "deny", "ROLE_NOT_ALLOWED"),
        ("alert_acknowledge", "deny", "ROLE_NOT_ALLOWED"),
        ("alert_read", "deny", "OUT_OF_REGION"),
        ("alert_read", "deny", "OUT_OF_REGION"),
        ("alert_resolve", "deny", "OUT_OF_REGION"),
    ]
    async with rig.store.unit_of_work(write=False) as uow:
        a = await uow.alerts.get(alert_id)
    assert a is not None and a.state is AlertState.OPEN
    # Another region's alerts never appear in its lists.
    page = await rig.service.list_alerts(ELSEWHERE, AlertFilter())
    assert page.alerts == ()


# ---------------------------------------------------------------------- listing
async def test_filters_pages_and_tokens(rig: Rig) -> None:
    made = []
    for i, code in enumerate(
        [ChangeCode.HUKOU_CANCELLED, ChangeCode.VEHICLE_ADDED, ChangeCode.SOURCE_NEWLY_FAILING] * 2
    ):
        rig.clock.now = T0 + timedelta(minutes=i)
        made.append(await rig.change_alert(code, f"k{i}"))
    rig.clock.now = T0 + timedelta(hours=1)
    ids_ = [v.alert.id for v in (await rig.service.list_alerts(WORKER, AlertFilter())).alerts]
    assert ids_ == made
    high = await rig.service.list_alerts(WORKER, AlertFilter(risk_level=RiskLevel.HIGH))
    assert [v.alert.id for v in high.alerts] == [made[0], made[3]]
    first = await rig.service.list_alerts(WORKER, AlertFilter(), page_size=4)
    assert [v.alert.id for v in first.alerts] == made[:4] and first.next_page_token
    rest = await rig.service.list_alerts(
        WORKER, AlertFilter(), page_size=4, page_token=first.next_page_token
    )
    assert [v.alert.id for v in rest.alerts] == made[4:] and rest.next_page_token == ""
    before = len(rig.actions())
    for token, flt, who in (
        (_tampered(first.next_page_token), AlertFilter(), WORKER),
        (first.next_page_token, AlertFilter(state=AlertState.OPEN), WORKER),
        (first.next_page_token, AlertFilter(), REVIEWER),
    ):
        with pytest.raises(InvalidArgument) as err:
            await rig.service.list_alerts(who, flt, page_token=token)
        assert err.value.violations[0].field == "page_token"
    for bad, field in (
        (AlertFilter(owner="a b"), "owner"),
        (AlertFilter(household_ref="xyz"), "household_ref"),
        (AlertFilter(region_prefix="3703x"), "region_prefix"),
        (
            AlertFilter(created_from=date(2026, 12, 2), created_to=date(2026, 12, 1)),
            "created_to",
        ),
    ):
        with pytest.raises(InvalidArgument) as err:
            await rig.service.list_alerts(WORKER, bad)
        assert err.value.violations[0].field == field
    assert len(rig.actions()) == before
    read = rig.entries("alert_read")[-1]
    assert read["details"]["filters"] == [] and read["details"]["continued"] is True
    day = await rig.service.list_alerts(
        WORKER, AlertFilter(created_from=date(2026, 12, 1), created_to=date(2026, 12, 1))
    )
    assert len(day.alerts) == 6
    none = await rig.service.list_alerts(WORKER, AlertFilter(created_from=date(2026, 12, 2)))
    assert none.alerts == ()


async def test_overdue_is_computed_on_read_and_marked_once(rig: Rig) -> None:
    alert_id = await rig.change_alert(ChangeCode.HUKOU_CANCELLED, "k1")  # high: 5 working days
    view = await rig.service.get(WORKER, alert_id)
    assert view.alert.act_by == date(2026, 12, 8) and not view.overdue
    assert await rig.service.mark_overdue() == []
    rig.clock.now = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)  # 00:00 on the 9th in China
    assert (await rig.service.get(WORKER, alert_id)).overdue
    overdue = await rig.service.list_alerts(WORKER, AlertFilter(overdue=True))
    assert [v.alert.id for v in overdue.alerts] == [alert_id]
    marked = await rig.service.mark_overdue()
    assert [a.id for a in marked] == [alert_id]
    assert await rig.service.mark_overdue() == []
    (entry,) = rig.entries("alert_overdue")
    assert entry["details"]["alert_id"] == alert_id and entry["actor"]["system"] == "hedui"
    view = await rig.service.get(WORKER, alert_id)
    assert [e.event for e in view.history] == ["raised", "overdue"]
    # Resolving ends it: an overdue alert may still be resolved, and is no longer overdue.
    done = await rig.service.resolve(WORKER, alert_id, Resolution.CONFIRMED)
    assert not done.overdue


# ---------------------------------------------------------------------- warnings
async def register(rig: Rig, *, state: ConsentState = ConsentState.ACTIVE) -> str:
    refs = [subject_ref(PKEY, s.id_type, s.id_number) for s in (APPLICANT, SPOUSE)]
    doc = ConsentDoc(
        number="SQ-2026-100",
        region="370322",
        subjects=(
            ConsentSubject(APPLICANT, Relation.APPLICANT),
            ConsentSubject(SPOUSE, Relation.SPOUSE),
        ),
        signatories=(),
        sources=(),
        purposes=(Purpose.DIBAO,),
        valid_from=date(2026, 1, 1),
        valid_until=date(2027, 12, 31),
        evidence_sha256="e" * 64,
        evidence_location="档案室 A-12",
    )

    async def work(uow: UnitOfWork) -> None:
        await uow.consents.add(doc, refs[0], refs, T0)
        if state is not ConsentState.ACTIVE:
            await uow.consents.set_state(doc.number, state)

    await rig.store.write(work)
    return refs[0]


def warning(person: Subject, warning_id: str, **kw: Any) -> WarningDraft:
    base: dict[str, Any] = dict(
        id_type=person.id_type,
        id_number=person.id_number,
        name=person.name,
        department=Department.MEDICAL_INSURANCE,
        reason=WarningReason.HIGH_MEDICAL_EXPENSE,
        warning_date=date(2026, 11, 28),
        region="370322",
        warning_id=warning_id,
    )
    base.update(kw)
    return WarningDraft(**base)


async def test_warnings_become_alerts_or_outreach_entries_never_queries(rig: Rig) -> None:
    household = await register(rig)
    rows = validate_warnings(
        [warning(SPOUSE, "YB-2026-0001"), warning(STRANGER, "YB-2026-0002")],
        today=T0.date(),
    )
    result = await rig.service.import_warnings(ADMIN, rows)
    assert (result.alerts, result.outreach, result.known) == (1, 1, 0)
    covered = await rig.service.get(WORKER, result.alert_ids[0])
    assert covered.alert.kind is AlertKind.WARNING
    assert covered.alert.household_ref == household
    assert covered.alert.details["authorization_id"] == "SQ-2026-100"
    assert covered.alert.risk_level is RiskLevel.MEDIUM and covered.alert.act_by is not None
    outreach = await rig.service.get(WORKER, result.alert_ids[1])
    assert outreach.alert.kind is AlertKind.OUTREACH and outreach.alert.household_ref == ""
    assert outreach.person is not None
    assert outreach.person.name_masked == "测**"
    assert outreach.person.id_number_masked.endswith(STRANGER.id_number[-4:])
    assert "*" in outreach.person.id_number_masked
    assert outreach.alert.subject_ref == subject_ref(PKEY, STRANGER.id_type, STRANGER.id_number)
    assert rig.actions() == [
        "alert_raised",
        "alert_raised",
        "outreach_ledger",
        "warnings_import",
        "alert_read",
        "alert_read",
    ]
    # The same list again raises nothing new.
    again = await rig.service.import_warnings(ADMIN, rows)
    assert (again.alerts, again.outreach, again.known) == (0, 0, 2)
    assert again.alert_ids == result.alert_ids
    # No raw ID number or name in the log.
    logged = repr(rig.store.entries())
    assert not any(x in logged for s in (SPOUSE, STRANGER) for x in (s.id_number, s.name))


async def test_a_revoked_authorization_covers_no_one(rig: Rig) -> None:
    await register(rig, state=ConsentState.REVOKED)
    rows = validate_warnings([warning(APPLICANT, "CL-1")], today=T0.date())
    result = await rig.service.import_warnings(ADMIN, rows)
    assert (result.alerts, result.outreach) == (0, 1)


async def test_warning_imports_are_for_admins_of_the_region(rig: Rig) -> None:
    rows = validate_warnings([warning(STRANGER, "CL-1")], today=T0.date())
    with pytest.raises(PermissionDenied) as role:
        await rig.service.import_warnings(WORKER, rows)
    assert role.value.reason == "ROLE_NOT_ALLOWED"
    far = validate_warnings(
        [warning(STRANGER, "CL-1"), warning(STRANGER, "CL-2", region="341824")],
        today=T0.date(),
    )
    with pytest.raises(PermissionDenied) as region:
        await rig.service.import_warnings(ADMIN, far)
    assert region.value.reason == "OUT_OF_REGION" and "warnings[1]" in str(region.value)
    assert [(e["action"], e["outcome"]) for e in rig.store.entries()] == [
        ("warnings_import", "deny"),
        ("warnings_import", "deny"),
    ]


def test_every_bad_warning_row_is_named() -> None:
    good = warning(STRANGER, "W-1")
    bad = [
        good,
        warning(STRANGER, "W-2", id_number=STRANGER.id_number[:-1] + "0"),
        warning(STRANGER, "W-3", name="测试\n丙"),
        warning(STRANGER, "W-4", department=None, reason=None),
        warning(STRANGER, "W-5", warning_date=date(2026, 12, 30)),
        warning(STRANGER, "W-6", region="37032"),
        warning(STRANGER, "W-1"),
        warning(STRANGER, "has space"),
    ]
    with pytest.raises(InvalidArgument) as err:
        validate_warnings(bad, today=T0.date())
    fields = [v.field for v in err.value.violations]
    assert fields == [
        "warnings[1].id_number",
        "warnings[2].name",
        "warnings[3].department",
        "warnings[3].reason",
        "warnings[4].warning_date",
        "warnings[5].region_code",
        "warnings[6].warning_id",
        "warnings[7].warning_id",
    ]
    assert STRANGER.id_number not in str(err.value)
    with pytest.raises(InvalidArgument) as empty:
        validate_warnings([], today=T0.date())
    assert empty.value.violations[0].field == "warnings"


def _tampered(token: str) -> str:
    """The token with one middle character changed (the ending may already be the
    replacement, or carry only padding bits)."""
    i = len(token) // 2
    return token[:i] + ("B" if token[i] == "A" else "A") + token[i + 1 :]
