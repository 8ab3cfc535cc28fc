"""The alerts and changes repositories keep one contract on SQLite, PostgreSQL and the
in-memory fake: an alert is raised once per dedup key with its audit entry, the person a
warning names comes back only through ``person``, filters and keyset pages, lifecycle
steps with history, the overdue sweep marks each alert once and skips locked rows;
household checks find their predecessor, comparisons are noted once and made once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from audit.entry import Actor
from audit.schema import AuditEntryRow
from hedui_sdk import IdType, Subject
from tests.fakes import InMemoryStore, synthetic_id
from tests.helpers import household_draft
from tests.stores import STORE_KINDS, running_record, store_under_test
from verifier.domain.alerts import (
    AlertDraft,
    AlertEvent,
    AlertKind,
    AlertQuery,
    AlertState,
    ReferralProgram,
    Resolution,
    RiskLevel,
)
from verifier.domain.errors import Conflict
from verifier.domain.household import validate_request
from verifier.domain.ports import (
    AlertChange,
    ChangeQuery,
    HouseholdCheck,
    Store,
    StoredChanges,
    UnitOfWork,
)
from verifier.domain.webhooks import EventType, OutboxEvent
from verifier.storage.engine import open_database
from verifier.storage.sealing import Sealer
from verifier.storage.uow import SqlStore

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ACTOR = Actor("hedui", "", "system", "")
HREF = "a" * 64
HREF2 = "b" * 64


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    async with store_under_test(request.param, database_url, T0) as s:
        yield s


def draft(key: str, **kw: object) -> AlertDraft:
    base: dict[str, object] = dict(
        kind=AlertKind.CHANGE,
        reason="VEHICLE_ADDED",
        region="370322",
        risk_level=RiskLevel.MEDIUM,
        act_by=date(2026, 12, 8),
        dedup_key=key,
        household_ref=HREF,
        details={"codes": ["VEHICLE_ADDED"]},
    )
    base.update(kw)
    return AlertDraft(**base)  # type: ignore[arg-type]


async def raise_(store: Store, d: AlertDraft, now: datetime = T0) -> tuple[str, bool]:
    async def work(uow: UnitOfWork) -> tuple[str, bool]:
        raised = await uow.alerts.raise_alert(d, actor=ACTOR, now=now)
        return raised.alert.id, raised.created

    return await store.write(work)


async def audit_actions(store: Store) -> list[str]:
    if isinstance(store, InMemoryStore):
        return [e["action"] for e in store.entries()]
    assert isinstance(store, SqlStore)
    async with store.db.read_sessions() as s:
        rows = await s.execute(select(AuditEntryRow.action).order_by(AuditEntryRow.seq))
        return list(rows.scalars())


async def test_raised_once_per_key_with_its_audit_entry(store: Store) -> None:
    person = Subject(IdType.RESIDENT_ID, synthetic_id(seq=7), "测试丁")
    first, created = await raise_(store, draft("k1", person=person, subject_ref=HREF2))
    again, created_again = await raise_(store, draft("k1", reason="BUSINESS_ADDED"))
    assert created and not created_again and again == first
    assert await audit_actions(store) == ["alert_raised"]
    async with store.unit_of_work(write=False) as uow:
        a = await uow.alerts.get(first)
        assert a is not None
        assert (a.state, a.reason, a.risk_level, a.act_by) == (
            AlertState.OPEN,
            "VEHICLE_ADDED",
            RiskLevel.MEDIUM,
            date(2026, 12, 8),
        )
        assert a.details == {"codes": ["VEHICLE_ADDED"]}
        assert await uow.alerts.person(first) == person
        assert [e.event for e in await uow.alerts.history(first)] == ["raised"]
        event = await uow.outbox.get(OutboxEvent.derive_id(EventType.ALERT_RAISED, first))
        assert event is not None
        assert event.data_dict() == {"alert_id": first, "region": "370322", "risk_level": "medium"}


async def test_a_raise_rolled_back_with_its_cause_leaves_nothing(store: Store) -> None:
    class Boom(Exception):
        pass

    async def work(uow: UnitOfWork) -> None:
        await uow.alerts.raise_alert(draft("k1"), actor=ACTOR, now=T0)
        raise Boom

    with pytest.raises(Boom):
        await store.write(work)
    async with store.unit_of_work(write=False) as uow:
        assert await uow.alerts.find(AlertQuery(("37",), T0, 10)) == []
    assert await audit_actions(store) == []
    async with store.unit_of_work(write=False) as uow:
        assert not await uow.outbox.has_undispatched()


async def test_filters_and_pages(store: Store) -> None:
    ids = []
    for i in range(5):
        alert_id, _ = await raise_(
            store,
            draft(
                f"k{i}",
                region="370322" if i % 2 == 0 else "341824",
                risk_level=RiskLevel.HIGH if i < 2 else RiskLevel.LOW,
                household_ref=HREF if i < 3 else HREF2,
                act_by=date(2026, 12, 1) if i == 4 else date(2027, 1, 1),
            ),
            now=T0 + timedelta(minutes=i),
        )
        ids.append(alert_id)
    now = T0 + timedelta(days=2)

    async def find(**kw: object) -> list[str]:
        base: dict[str, object] = dict(regions=("37", "34"), now=now, limit=100)
        base.update(kw)
        async with store.unit_of_work(write=False) as uow:
            return [a.id for a in await uow.alerts.find(AlertQuery(**base))]  # type: ignore[arg-type]

    assert await find() == ids
    assert await find(regions=("3703",)) == [ids[0], ids[2], ids[4]]
    assert await find(region="3418") == [ids[1], ids[3]]
    assert await find(risk_level=RiskLevel.HIGH) == ids[:2]
    assert await find(household_ref=HREF2) == ids[3:]
    assert await find(overdue=True) == [ids[4]]
    assert await find(overdue=False) == ids[:4]
    assert await find(created_from=T0 + timedelta(minutes=1)) == ids[1:]
    assert await find(created_until=T0 + timedelta(minutes=1)) == ids[:1]
    assert await find(regions=()) == []
    # keyset pages
    page1 = await find(limit=2)
    async with store.unit_of_work(write=False) as uow:
        last = await uow.alerts.get(page1[-1])
    assert last is not None
    assert await find(limit=2, after=(last.created_at, last.id)) == ids[2:4]
    # a prefix with LIKE's wildcards matches nothing, not everything
    assert await find(regions=("%",)) == []


async def test_lifecycle_steps_keep_history(store: Store) -> None:
    alert_id, _ = await raise_(store, draft("k1"))
    t1 = T0 + timedelta(hours=1)

    async def step(change: AlertChange, now: datetime) -> None:
        async def work(uow: UnitOfWork) -> None:
            assert await uow.alerts.lock(alert_id) is not None
            await uow.alerts.change(alert_id, change, now)

        await store.write(work)

    await step(
        AlertChange(
            AlertState.ACKNOWLEDGED, "worker-2", AlertEvent(t1, "acknowledged", "sys", "worker-2")
        ),
        t1,
    )
    await step(
        AlertChange(
            AlertState.RESOLVED,
            "worker-2",
            AlertEvent(t1, "resolved", "sys", "worker-2", "referred: medical_assistance"),
            Resolution.REFERRED,
            ReferralProgram.MEDICAL_ASSISTANCE,
        ),
        t1,
    )
    async with store.unit_of_work(write=False) as uow:
        a = await uow.alerts.get(alert_id)
        assert a is not None
        assert (a.state, a.owner, a.resolution, a.referred_program) == (
            AlertState.RESOLVED,
            "worker-2",
            Resolution.REFERRED,
            ReferralProgram.MEDICAL_ASSISTANCE,
        )
        assert [e.event for e in await uow.alerts.history(alert_id)] == [
            "raised",
            "acknowledged",
            "resolved",
        ]

    async def missing(uow: UnitOfWork) -> None:
        await uow.alerts.change(
            "nope", AlertChange(AlertState.OPEN, "", AlertEvent(t1, "x", "", "")), t1
        )

    with pytest.raises(KeyError):
        await store.write(missing)


async def test_overdue_sweep_marks_each_alert_once(store: Store) -> None:
    late, _ = await raise_(store, draft("k1", act_by=date(2026, 12, 1)))
    await raise_(store, draft("k2", act_by=date(2026, 12, 30)))
    await raise_(store, draft("k3", act_by=None))
    resolved, _ = await raise_(store, draft("k4", act_by=date(2026, 12, 1)))

    async def resolve(uow: UnitOfWork) -> None:
        await uow.alerts.change(
            resolved,
            AlertChange(
                AlertState.RESOLVED, "", AlertEvent(T0, "resolved", "s", "u"), Resolution.NO_CHANGE
            ),
            T0,
        )

    await store.write(resolve)
    # the end of 2026-12-01 in China is 15:59:59.999999 UTC
    before = datetime(2026, 12, 1, 15, 59, 59, tzinfo=UTC)
    after = datetime(2026, 12, 1, 16, 0, 0, tzinfo=UTC)

    async def sweep(now: datetime) -> list[str]:
        async def work(uow: UnitOfWork) -> list[str]:
            return [a.id for a in await uow.alerts.mark_overdue(now, 10)]

        return await store.write(work)

    assert await sweep(before) == []
    assert await sweep(after) == [late]
    assert await sweep(after + timedelta(days=1)) == []
    async with store.unit_of_work(write=False) as uow:
        a = await uow.alerts.get(late)
        assert a is not None and a.overdue_marked_at == after and a.overdue(after)
        assert [e.event for e in await uow.alerts.history(late)] == ["raised", "overdue"]


@pytest.mark.postgres
async def test_overdue_sweep_skips_rows_another_replica_holds(postgres_url: str) -> None:
    a = SqlStore(open_database(postgres_url), Sealer.without_keys())
    b = SqlStore(open_database(postgres_url), Sealer.without_keys())
    try:
        for i in range(4):
            await raise_(a, draft(f"k{i}", act_by=date(2026, 11, 1)), now=T0 + timedelta(seconds=i))
        holding = asyncio.Event()
        release = asyncio.Event()

        async def hold(uow: UnitOfWork) -> list[str]:
            got = [x.id for x in await uow.alerts.mark_overdue(T0, 2)]
            holding.set()
            await release.wait()
            return got

        first = asyncio.create_task(a.write(hold))
        await holding.wait()
        async with b.unit_of_work(write=True) as uow:
            second = [x.id for x in await uow.alerts.mark_overdue(T0, 10)]
            await uow.commit()
        release.set()
        taken = await first
        assert len(taken) == 2 and len(second) == 2 and not set(taken) & set(second)
    finally:
        await a.aclose()
        await b.aclose()


# --------------------------------------------------------------------------- changes


async def add_verification(store: Store, vid: str, created: datetime) -> None:
    request = validate_request(household_draft(request_id=vid[-12:]), today=created.date())

    async def work(uow: UnitOfWork) -> None:
        await uow.verifications.add(
            running_record(
                vid,
                vid[-12:],
                created,
                caller_system="sys",
                caller_user="u",
                source_count=1,
                caller_role="",
                caller_region="",
            ),
            request,
            "SQ-1",
            run_lease=("me", created + timedelta(minutes=1)),
        )

    await store.write(work)


def vid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def test_checks_comparisons_and_documents(store: Store) -> None:
    for n in (1, 2, 3):
        await add_verification(store, vid(n), T0 + timedelta(days=n))
    checks = [
        HouseholdCheck(vid(n), "370322", HREF, ("c" * 64, "d" * 64), T0 + timedelta(days=n))
        for n in (1, 2, 3)
    ]
    other = replace(checks[2], verification_id=vid(4), household_ref=HREF2)
    await add_verification(store, vid(4), T0 + timedelta(days=4))

    async def note(uow: UnitOfWork) -> None:
        for c in (checks[0], checks[2], other):
            await uow.changes.note_release(c, 1, T0)
        await uow.changes.note_release(checks[2], 1, T0)  # idempotent
        await uow.changes.note_release(checks[2], 2, T0)

    await store.write(note)
    async with store.unit_of_work(write=False) as uow:
        assert await uow.changes.check(vid(3)) == checks[2]
        # vid(2) has no released report: vid(3)'s predecessor is vid(1)
        assert await uow.changes.previous_check(checks[2]) == checks[0]
        assert await uow.changes.previous_check(checks[0]) is None
        assert await uow.changes.previous_check(other) is None
        # A re-check from the roster whose applicant changed finds the household's check
        # through the roster entry, once that check is linked to it.
        successor = replace(other, household_ref="9" * 64, roster_ref="r" * 64)
        assert await uow.changes.previous_check(successor) is None

    async def link(uow: UnitOfWork) -> None:
        await uow.changes.set_roster_ref(vid(3), "r" * 64)

    await store.write(link)
    async with store.unit_of_work(write=False) as uow:
        linked = await uow.changes.check(vid(3))
        assert linked is not None and linked.roster_ref == "r" * 64
        assert await uow.changes.previous_check(successor) == linked

    async def pending(uow: UnitOfWork) -> list[tuple[str, int]]:
        return [(p.verification_id, p.version) for p in await uow.changes.pending(T0, 10)]

    async with store.unit_of_work(write=False) as uow:
        assert await uow.changes.has_pending(T0)
        assert not await uow.changes.has_pending(T0 - timedelta(seconds=1))
    assert sorted(await store.write(pending)) == sorted(
        [(vid(1), 1), (vid(3), 1), (vid(3), 2), (vid(4), 1)]
    )

    async def only(uow: UnitOfWork) -> list[tuple[str, int]]:
        got = await uow.changes.pending(T0, 10, only=(vid(3), 2))
        await uow.changes.finish(vid(1), 1, "first_check", T0)
        await uow.changes.retry_later(vid(4), 1, T0 + timedelta(minutes=5), "report missing")
        return [(p.verification_id, p.version) for p in got]

    assert await store.write(only) == [(vid(3), 2)]
    assert sorted(await store.write(pending)) == [(vid(3), 1), (vid(3), 2)]

    doc = StoredChanges(
        verification_id=vid(3),
        version=1,
        region="370322",
        household_ref=HREF,
        previous_verification_id=vid(1),
        previous_version=2,
        previous_report_id="r1",
        previous_sha256="1" * 64,
        current_report_id="r3",
        current_sha256="3" * 64,
        envelope=b'{"payloadType":"x"}',
        envelope_sha256="e" * 64,
        key_id="f" * 64,
        codes=("VEHICLE_ADDED", "TAPER_STARTED"),
        household_figures_compared=False,
        withheld=3,
        created_at=T0 + timedelta(days=3),
        record_seq=7,
    )

    async def add(uow: UnitOfWork) -> None:
        await uow.changes.add(doc)
        await uow.changes.add(replace(doc, version=2, created_at=T0 + timedelta(days=3, hours=1)))

    await store.write(add)
    with pytest.raises(Conflict):
        await store.write(lambda uow: uow.changes.add(doc))
    async with store.unit_of_work(write=False) as uow:
        assert await uow.changes.get(vid(3), 1) == doc
        latest = await uow.changes.get(vid(3), 0)
        assert latest is not None and latest.version == 2
        found = await uow.changes.find(ChangeQuery(("3703",), 10, household_ref=HREF))
        assert [(c.verification_id, c.version) for c in found] == [(vid(3), 2), (vid(3), 1)]
        page2 = await uow.changes.find(
            ChangeQuery(("37",), 10, after=(found[0].created_at, vid(3), 2))
        )
        assert [c.version for c in page2] == [1]
        assert await uow.changes.find(ChangeQuery(("34",), 10)) == []


async def test_consents_naming_a_person(store: Store) -> None:
    """What a warning import asks the 授权书 registry: every authorization naming a person."""
    from verifier.domain.consent import ConsentDoc, ConsentSubject
    from verifier.domain.household import Purpose, Relation

    person = Subject(IdType.RESIDENT_ID, synthetic_id(seq=31), "测试戊")
    doc = ConsentDoc(
        number="SQ-9",
        region="370322",
        subjects=(ConsentSubject(person, Relation.APPLICANT),),
        signatories=(),
        sources=(),
        purposes=(Purpose.DIBAO,),
        valid_from=date(2026, 1, 1),
        valid_until=None,
        evidence_sha256="e" * 64,
        evidence_location="A-1",
    )

    async def add(uow: UnitOfWork) -> None:
        await uow.consents.add(doc, HREF, [HREF, HREF2], T0)

    await store.write(add)
    async with store.unit_of_work(write=False) as uow:
        (found,) = await uow.consents.naming(HREF2)
        assert (found.number, found.household_ref) == ("SQ-9", HREF)
        assert await uow.consents.naming("c" * 64) == []
