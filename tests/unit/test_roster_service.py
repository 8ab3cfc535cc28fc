"""RosterService on in-memory fakes: import (all or nothing, partial, idempotent upsert),
listings with tamper-checked page tokens, show, removal, and every refusal writing
nothing but its own audit entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.fakes import InMemoryStore
from tests.pii import PiiScanner
from tests.roster import entry_draft, member_ids
from verifier.domain.caller import Caller
from verifier.domain.errors import InvalidArgument, NotFound, PermissionDenied
from verifier.domain.household import HukouNature, Purpose
from verifier.domain.roster import JobState, RecheckState, RosterClass
from verifier.service.roster.entries import RosterFilter, RosterService

KEY = bytes(range(32))
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 2 March 2026, 10:00 in China
CASEWORKER = Caller("county-system", "worker-1", "caseworker", ("3418",))
REVIEWER = Caller("county-system", "reviewer-1", "reviewer", ("3418",))
AUDITOR = Caller("county-system", "auditor-1", "auditor", ("3418",))
ELSEWHERE = Caller("other-system", "worker-9", "caseworker", ("3703",))


def rig(now: datetime = NOW) -> tuple[RosterService, InMemoryStore]:
    store = InMemoryStore()
    return RosterService(store, KEY, clock=lambda: now), store


def actions(store: InMemoryStore) -> list[tuple[str, str]]:
    return [(e["action"], e["outcome"]) for e in store.entries()]


def rows(store: InMemoryStore) -> int:
    return len(store.tables.roster.entries)


async def test_import_creates_then_is_idempotent_then_updates() -> None:
    service, store = rig()
    drafts = [entry_draft("HH-1"), entry_draft("HH-2", roster_class=RosterClass.DIBAO_C)]
    first = await service.import_entries(CASEWORKER, drafts)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    again = await service.import_entries(CASEWORKER, drafts)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    audit_before = len(store.entries())
    changed = [drafts[0], replace(drafts[1], roster_class=RosterClass.DIBAO_A)]
    third = await service.import_entries(CASEWORKER, changed)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 1)
    updates = [e for e in store.entries()[audit_before:] if e["outcome"] == "updated"]
    assert len(updates) == 1
    assert updates[0]["details"]["changed"] == ["roster_class"]
    assert updates[0]["details"]["household_ref"] == "HH-2"
    assert len(updates[0]["subject_refs"]) == 2
    # Audit rows carry keyed refs, never an ID number or a name.
    scanner = PiiScanner(
        known_ids=member_ids("HH-1") + member_ids("HH-2"), names=["测试甲", "测试乙"]
    )
    assert scanner.value(store.entries(), "audit") == []


async def test_created_entries_are_due_by_their_last_check_and_cycle() -> None:
    service, _ = rig()
    await service.import_entries(
        CASEWORKER,
        [
            entry_draft("A", last_check=date(2025, 3, 2)),  # A class: a year
            entry_draft("C", roster_class=RosterClass.DIBAO_C, last_check=date(2025, 8, 31)),
            entry_draft("NEW"),
            entry_draft("ONCE", roster_class=RosterClass.LINSHI, programs=(Purpose.LINSHI,)),
        ],
    )
    page = await service.list_entries(CASEWORKER, RosterFilter())
    due = {v.record.household_ref: v for v in page.entries}
    assert due["A"].record.schedule.next_due == date(2026, 3, 2)
    assert due["A"].state is RecheckState.DUE and not due["A"].overdue
    assert due["C"].record.schedule.next_due == date(2026, 2, 28)
    assert due["C"].overdue
    assert due["NEW"].record.schedule.next_due == date(2026, 3, 2)
    assert due["ONCE"].state is RecheckState.NO_CYCLE
    assert due["ONCE"].record.schedule.next_due is None


async def test_a_bad_entry_refuses_the_whole_import_and_writes_nothing() -> None:
    service, store = rig()
    bad_id = entry_draft("HH-2").members[0].id_number[:17] + "0"
    drafts = [
        entry_draft("HH-1"),
        replace(
            entry_draft("HH-2"),
            members=(replace(entry_draft("HH-2").members[0], id_number=bad_id),),
        ),
        entry_draft("HH-3", roster_class=RosterClass.TEKUN),  # 特困 class without the program
        entry_draft("1234567890123456789"[:6] + member_ids("x")[0][6:]),  # an ID-shaped ref
        entry_draft("HH-5", hukou=None, last_check=date(2026, 3, 3)),
    ]
    with pytest.raises(InvalidArgument) as info:
        await service.import_entries(CASEWORKER, drafts)
    fields = {v.field for v in info.value.violations}
    assert "entries[1].members[0].id_number" in fields
    assert "entries[2].roster_class" in fields
    assert "entries[3].household_ref" in fields
    assert {"entries[4].hukou_nature", "entries[4].last_check_date"} <= fields
    assert not any(f.startswith("entries[0]") for f in fields)
    assert rows(store) == 0 and store.entries() == []
    # No description repeats the bad values.
    assert all(bad_id not in v.description for v in info.value.violations)


async def test_partial_imports_the_good_entries_and_names_the_bad() -> None:
    service, store = rig()
    drafts = [
        entry_draft("HH-1"),
        entry_draft("HH-2", programs=()),
        entry_draft("HH-1"),  # the same household twice
    ]
    result = await service.import_entries(CASEWORKER, drafts, partial=True)
    assert result.created == 1
    rejected = dict(result.rejected)
    assert set(rejected) == {1, 2}
    assert [v.field for v in rejected[2]] == ["household_ref"]
    assert "repeats entries[0]" in rejected[2][0].description
    assert rows(store) == 1


async def test_validate_only_counts_and_writes_nothing() -> None:
    service, store = rig()
    await service.import_entries(CASEWORKER, [entry_draft("HH-1")])
    before = (rows(store), len(store.entries()))
    result = await service.import_entries(
        CASEWORKER,
        [entry_draft("HH-1"), entry_draft("HH-2"), entry_draft("HH-1", case_ref="CASE-X")][1:],
        validate_only=True,
    )
    assert (result.created, result.updated) == (1, 1)
    assert (rows(store), len(store.entries())) == before


@pytest.mark.parametrize(
    ("caller", "reason"),
    [(REVIEWER, "ROLE_NOT_ALLOWED"), (AUDITOR, "ROLE_NOT_ALLOWED"), (ELSEWHERE, "OUT_OF_REGION")],
)
async def test_import_refusals_are_audited_and_write_no_entry(caller: Caller, reason: str) -> None:
    service, store = rig()
    with pytest.raises(PermissionDenied) as info:
        await service.import_entries(caller, [entry_draft("HH-1")])
    assert info.value.reason == reason
    assert rows(store) == 0
    assert actions(store) == [("roster_import", "deny")]
    assert store.entries()[0]["reason"] == reason


async def test_an_out_of_region_entry_refuses_the_request_even_when_partial() -> None:
    service, store = rig()
    drafts = [entry_draft("HH-1"), entry_draft("HH-2", region="370322")]
    with pytest.raises(PermissionDenied):
        await service.import_entries(CASEWORKER, drafts, partial=True)
    assert rows(store) == 0


async def _roster(service: RosterService) -> None:
    drafts = [entry_draft(f"HH-{i:02d}", last_check=date(2025, 1 + i % 12, 10)) for i in range(12)]
    drafts += [
        entry_draft(
            f"TK-{i}",
            roster_class=RosterClass.TEKUN,
            programs=(Purpose.TEKUN,),
            last_check=date(2025, 6, 1),
        )
        for i in range(3)
    ]
    await service.import_entries(CASEWORKER, drafts)


async def test_listing_filters_and_pages() -> None:
    service, store = rig()
    await _roster(service)
    tekun = await service.list_entries(REVIEWER, RosterFilter(roster_class=RosterClass.TEKUN))
    assert [v.record.household_ref for v in tekun.entries] == ["TK-0", "TK-1", "TK-2"]
    dibao = await service.list_entries(REVIEWER, RosterFilter(program=Purpose.DIBAO))
    assert len(dibao.entries) == 12
    overdue = await service.list_entries(REVIEWER, RosterFilter(overdue=True))
    assert all(v.overdue for v in overdue.entries)
    assert [v.record.schedule.next_due for v in overdue.entries] == sorted(
        v.record.schedule.next_due for v in overdue.entries if v.record.schedule.next_due
    )
    due = await service.list_entries(REVIEWER, RosterFilter(due_before=date(2026, 6, 30)))
    assert all(
        v.record.schedule.next_due and v.record.schedule.next_due <= date(2026, 6, 30)
        for v in due.entries
    )
    # Pages of 4, by due date, cover every match once.
    seen: list[str] = []
    flt = RosterFilter(due_before=date(2027, 1, 1), page_size=4)
    while True:
        page = await service.list_entries(REVIEWER, flt)
        seen += [v.record.household_ref for v in page.entries]
        if not page.next_page_token:
            break
        flt = replace(flt, page_token=page.next_page_token)
    assert sorted(seen) == sorted({*seen}) and len(seen) == 15
    reads = [e for e in store.entries() if e["action"] == "roster_read"]
    assert reads and all(e["subject_refs"] == [] for e in reads)


async def test_page_tokens_are_tamper_checked_and_bound_to_their_filters() -> None:
    service, store = rig()
    await _roster(service)
    page = await service.list_entries(REVIEWER, RosterFilter(page_size=2))
    token = page.next_page_token
    assert token
    before = len(store.entries())
    for bad in (
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "x" + token,
        "seq:1",
        token + "\n",
    ):
        with pytest.raises(InvalidArgument) as info:
            await service.list_entries(REVIEWER, RosterFilter(page_size=2, page_token=bad))
        assert [v.field for v in info.value.violations] == ["page_token"]
    with pytest.raises(InvalidArgument):
        await service.list_entries(
            REVIEWER, RosterFilter(page_size=2, page_token=token, program=Purpose.TEKUN)
        )
    # Issued to one user, refused to another.
    with pytest.raises(InvalidArgument):
        await service.list_entries(CASEWORKER, RosterFilter(page_size=2, page_token=token))
    assert len(store.entries()) == before  # refusals of bad input write nothing


@pytest.mark.parametrize(
    ("flt", "field"),
    [
        (RosterFilter(region="34182"), "region_code"),
        (RosterFilter(region="3418\n"), "region_code"),
        (RosterFilter(region="３４"), "region_code"),
        (RosterFilter(page_size=-1), "page_size"),
        (RosterFilter(page_size=1001), "page_size"),
    ],
)
async def test_bad_filters_are_named(flt: RosterFilter, field: str) -> None:
    service, store = rig()
    with pytest.raises(InvalidArgument) as info:
        await service.list_entries(REVIEWER, flt)
    assert [v.field for v in info.value.violations] == [field]
    assert store.entries() == []


async def test_list_refusals() -> None:
    service, store = rig()
    with pytest.raises(PermissionDenied) as info:
        await service.list_entries(AUDITOR, RosterFilter())
    assert info.value.reason == "ROLE_NOT_ALLOWED"
    with pytest.raises(PermissionDenied) as info:
        await service.list_entries(REVIEWER, RosterFilter(region="3703"))
    assert info.value.reason == "OUT_OF_REGION"
    assert actions(store) == [("roster_read", "deny"), ("roster_read", "deny")]
    # A prefix above the caller's narrows to the caller's own regions.
    page = await service.list_entries(REVIEWER, RosterFilter(region="34"))
    assert page.entries == ()


async def test_show_returns_the_household_and_audits_whose_it_is() -> None:
    service, store = rig()
    await service.import_entries(CASEWORKER, [entry_draft("HH-1")])
    view = await service.get(REVIEWER, "HH-1")
    assert [m.subject.id_number for m in view.members] == member_ids("HH-1")
    read = store.entries()[-1]
    assert read["action"] == "roster_read" and len(read["subject_refs"]) == 2
    with pytest.raises(NotFound):
        await service.get(REVIEWER, "HH-404")
    with pytest.raises(PermissionDenied):
        await service.get(REVIEWER, "HH-1", "370322")
    with pytest.raises(InvalidArgument) as info:
        await service.get(REVIEWER, member_ids("HH-1")[0])
    assert [v.field for v in info.value.violations] == ["household_ref"]


async def test_show_without_a_region_needs_one_when_the_ref_is_in_two() -> None:
    service, _ = rig()
    both = Caller("city-system", "w", "caseworker", ("34",))
    await service.import_entries(both, [entry_draft("HH-1"), entry_draft("HH-1", region="341802")])
    with pytest.raises(InvalidArgument) as info:
        await service.get(both, "HH-1")
    assert [v.field for v in info.value.violations] == ["region_code"]
    assert (await service.get(both, "HH-1", "341802")).record.region == "341802"


async def test_remove_is_explicit_audited_and_cancels_the_waiting_job() -> None:
    service, store = rig()
    await service.import_entries(CASEWORKER, [entry_draft("HH-1")])
    async with store.unit_of_work(write=True) as uow:
        jobs = await uow.rechecks.enqueue_due(date(2026, 3, 2), NOW, 10)
        await uow.commit()
    assert len(jobs) == 1
    for reason in ("", "  ", "停保\n", "身份证 " + member_ids("HH-1")[0]):
        with pytest.raises(InvalidArgument):
            await service.remove(CASEWORKER, "HH-1", "341824", reason)
    with pytest.raises(PermissionDenied):
        await service.remove(REVIEWER, "HH-1", "341824", "停保")
    assert rows(store) == 1
    removed = await service.remove(CASEWORKER, "HH-1", "341824", "停保：收入超过标准")
    assert removed.record.household_ref == "HH-1"
    assert rows(store) == 0
    entry: dict[str, Any] = store.entries()[-1]
    assert entry["action"] == "roster_remove" and entry["outcome"] == "allow"
    assert entry["details"]["reason"] == "停保：收入超过标准"
    assert entry["details"]["cancelled_jobs"] == 1
    assert store.tables.roster.jobs[jobs[0].id].job.state is JobState.CANCELLED
    with pytest.raises(NotFound):
        await service.remove(CASEWORKER, "HH-1", "341824", "停保")


async def test_a_later_recorded_check_moves_the_cycle_and_cancels_its_job() -> None:
    service, store = rig()
    await service.import_entries(CASEWORKER, [entry_draft("HH-1", last_check=date(2025, 3, 2))])
    async with store.unit_of_work(write=True) as uow:
        [job] = await uow.rechecks.enqueue_due(date(2026, 3, 2), NOW, 10)
        await uow.commit()
    await service.import_entries(CASEWORKER, [entry_draft("HH-1", last_check=date(2026, 2, 27))])
    view = await service.get(CASEWORKER, "HH-1")
    assert view.record.schedule.next_due == date(2027, 3, 1)  # 27 February 2027 is a Saturday
    assert view.state is RecheckState.NOT_DUE
    assert store.tables.roster.jobs[job.id].job.state is JobState.CANCELLED


async def test_hukou_and_declaration_changes_are_updates() -> None:
    service, store = rig()
    await service.import_entries(CASEWORKER, [entry_draft("HH-1")])
    result = await service.import_entries(
        CASEWORKER, [entry_draft("HH-1", hukou=HukouNature.URBAN)]
    )
    assert result.updated == 1
    assert store.entries()[-2]["details"]["changed"] == ["hukou"]
