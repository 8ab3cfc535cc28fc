"""RosterService over a real grpc.aio server, on both databases: import, list, show
(masked), remove; every refusal (bad row, bad filter, unauthorized role or region) is
INVALID_ARGUMENT or PERMISSION_DENIED with the field or reason named, and writes nothing
(a denial writes its own audit entry only). Also `hedui roster import` against it."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from google.type import date_pb2
from grpc_status import rpc_status
from hedui.v1 import common_pb2 as common
from hedui.v1 import roster_pb2 as pb
from sqlalchemy import func, select

from audit.schema import AuditEntryRow
from hedui_sdk import SourceKind
from tests.consents import consent_draft
from tests.fakes import FakeAdapter
from tests.helpers import make_app
from tests.roster import CSV_HEADER, csv_rows, member_ids
from verifier.api.client import Client
from verifier.api.roster_files import read_csv
from verifier.bootstrap import App, serve_app
from verifier.cli import roster_cmds
from verifier.config import Principal, RosterConfig
from verifier.domain.caller import Caller
from verifier.domain.household import Relation
from verifier.domain.roster import china_date, first_working_day
from verifier.storage.models import VerificationRow
from verifier.storage.models_roster import RosterEntryRow
from verifier.storage.uow import SqlStore

SYSTEM = "county-system"
PRINCIPALS = {
    SYSTEM: Principal(SYSTEM, ("caseworker", "reviewer", "auditor", "admin"), ("3418",)),
    "other-system": Principal("other-system", ("caseworker",), ("3703",)),
}


@dataclass
class Served:
    app: App
    target: str

    def client(self, role: str = "caseworker", system: str = SYSTEM) -> Client:
        return Client(self.target, user="worker-1", role=role, system=system)

    async def counts(self) -> tuple[int, int]:
        """(roster rows, audit entries)."""
        assert isinstance(self.app.store, SqlStore)
        async with self.app.store.db.read_sessions() as s:
            rows = (await s.execute(select(func.count()).select_from(RosterEntryRow))).scalar()
            audit = (await s.execute(select(func.count()).select_from(AuditEntryRow))).scalar()
        return int(rows or 0), int(audit or 0)

    async def audit(self) -> list[dict[str, Any]]:
        assert isinstance(self.app.store, SqlStore)
        async with self.app.store.db.read_sessions() as s:
            rows = (await s.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq))).scalars()
            return [json.loads(r.body) for r in rows]


@pytest.fixture
async def served(database_url: str, keys_dir: Path) -> AsyncIterator[Served]:
    app = await make_app(
        database_url,
        keys_dir,
        {SourceKind.TAX: FakeAdapter(SourceKind.TAX)},
        principals=PRINCIPALS,
        roster=RosterConfig(scheduler=False),
    )
    running = await serve_app(app, "127.0.0.1:0")
    try:
        yield Served(app, f"127.0.0.1:{running.port}")
    finally:
        await running.stop(0)
        await app.aclose()


def file_entries(*refs: str) -> list[pb.RosterEntry]:
    text = "\n".join([CSV_HEADER, *(r for ref in refs for r in csv_rows(ref))])
    f = read_csv(text)
    assert f.problems == []
    return [e.entry for e in f.entries]


def refusal(exc: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, list[str], str]:
    """The code, the BadRequest fields and the ErrorInfo reason of a refusal."""
    status = rpc_status.from_call(exc)
    fields: list[str] = []
    reason = ""
    for d in status.details if status else ():
        br, info = error_details_pb2.BadRequest(), error_details_pb2.ErrorInfo()
        if d.Unpack(br):
            fields += [v.field for v in br.field_violations]
        elif d.Unpack(info):
            reason = info.reason
    return exc.code(), fields, reason


async def test_import_list_show_remove(served: Served) -> None:
    async with served.client() as c:
        resp = await c.import_roster(pb.ImportRosterRequest(entries=file_entries("HH-1", "HH-2")))
        assert (resp.created, resp.updated, resp.unchanged) == (2, 0, 0)
        again = await c.import_roster(pb.ImportRosterRequest(entries=file_entries("HH-1", "HH-2")))
        assert (again.created, again.unchanged) == (0, 2)
        page = await c.list_roster(pb.ListRosterEntriesRequest())
        assert [e.household_ref for e in page.entries] == ["HH-1", "HH-2"]
        assert all(len(e.members) == 0 and e.member_count == 2 for e in page.entries)
        # Never checked: due on the day of import, or the first working day after it.
        due = first_working_day(china_date(datetime.now(UTC)))
        assert all(
            (e.next_due_date.year, e.next_due_date.month, e.next_due_date.day)
            == (due.year, due.month, due.day)
            for e in page.entries
        )
        assert page.entries[0].cycle.reference == "绩办〔2021〕27号"
        shown = await c.get_roster_entry("HH-1")
        ids = member_ids("HH-1")
        assert [m.id_number for m in shown.members] == [i[:4] + "*" * 10 + i[-4:] for i in ids]
        assert [m.name for m in shown.members] == ["测**", "测**"]
        removed = await c.remove_roster_entry("HH-1", "341824", "停保：收入超过标准")
        assert removed.household_ref == "HH-1"
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await c.get_roster_entry("HH-1")
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
    actions = [(e["action"], e["outcome"]) for e in await served.audit()]
    assert ("roster_remove", "allow") in actions and ("roster_read", "allow") in actions
    dump = json.dumps(await served.audit(), ensure_ascii=False)
    assert all(i not in dump for i in member_ids("HH-1") + member_ids("HH-2"))


async def test_a_bad_row_refuses_the_import_and_writes_nothing(served: Served) -> None:
    entries = file_entries("HH-1", "HH-2")
    entries[1].members[0].id_number = entries[1].members[0].id_number[:17] + "Y"
    entries[0].roster_class = 42  # type: ignore[assignment]
    before = await served.counts()
    async with served.client() as c:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await c.import_roster(pb.ImportRosterRequest(entries=entries))
    code, fields, _ = refusal(info.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "entries[1].members[0].id_number" in fields
    assert "entries[0].roster_class" in fields
    assert await served.counts() == before
    # Partial: the good entry goes in, the bad is named in the answer.
    async with served.client() as c:
        resp = await c.import_roster(
            pb.ImportRosterRequest(entries=file_entries("HH-3") + entries[1:], partial=True)
        )
    assert resp.created == 1
    assert [(r.index, {v.field for v in r.violations}) for r in resp.rejected] == [
        (1, {"members[0].id_number"})
    ]


async def test_too_many_entries_are_refused_whole(served: Served) -> None:
    one = file_entries("HH-1")[0]
    async with served.client() as c:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await c.import_roster(pb.ImportRosterRequest(entries=[one] * 1001))
    assert refusal(info.value)[:2] == (grpc.StatusCode.INVALID_ARGUMENT, ["entries"])
    assert await served.counts() == (0, 0)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.ListRosterEntriesRequest(page_size=-1), "page_size"),
        (pb.ListRosterEntriesRequest(page_size=1001), "page_size"),
        (pb.ListRosterEntriesRequest(region_code="3418x"), "region_code"),
        (pb.ListRosterEntriesRequest(program=99), "program"),  # type: ignore[arg-type]
        (pb.ListRosterEntriesRequest(roster_class=77), "roster_class"),  # type: ignore[arg-type]
        (
            pb.ListRosterEntriesRequest(due_before=date_pb2.Date(year=2026, month=2, day=30)),
            "due_before",
        ),
        (pb.ListRosterEntriesRequest(page_token="c2VxOjE.AAAAAAAAAAAAAAAAAAAAAA"), "page_token"),
    ],
)
async def test_bad_filters_are_named_and_write_nothing(
    served: Served, request_: pb.ListRosterEntriesRequest, field: str
) -> None:
    async with served.client("reviewer") as c:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await c.list_roster(request_)
    assert refusal(info.value)[:2] == (grpc.StatusCode.INVALID_ARGUMENT, [field])
    assert await served.counts() == (0, 0)


async def attempt(c: Client, call: str) -> object:
    if call == "list":
        return await c.list_roster(pb.ListRosterEntriesRequest())
    if call == "list-elsewhere":
        return await c.list_roster(pb.ListRosterEntriesRequest(region_code="3703"))
    if call == "import":
        return await c.import_roster(pb.ImportRosterRequest(entries=file_entries("HH-9")))
    if call == "show":
        return await c.get_roster_entry("HH-1", "341824")
    return await c.remove_roster_entry("HH-1", "341824", "停保")


@pytest.mark.parametrize(
    ("role", "system", "call", "reason"),
    [
        ("auditor", SYSTEM, "list", "ROLE_NOT_ALLOWED"),
        ("reviewer", SYSTEM, "import", "ROLE_NOT_ALLOWED"),
        ("caseworker", "other-system", "import", "OUT_OF_REGION"),
        ("caseworker", "other-system", "show", "OUT_OF_REGION"),
        ("caseworker", SYSTEM, "list-elsewhere", "OUT_OF_REGION"),
        ("reviewer", SYSTEM, "remove", "ROLE_NOT_ALLOWED"),
    ],
)
async def test_unauthorized_calls_are_denied_with_the_reason_and_write_only_that(
    served: Served, role: str, system: str, call: str, reason: str
) -> None:
    async with served.client() as c:
        await c.import_roster(pb.ImportRosterRequest(entries=file_entries("HH-1")))
    rows, audit = await served.counts()
    async with served.client(role, system) as c:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await attempt(c, call)
    code, _, why = refusal(info.value)
    assert (code, why) == (grpc.StatusCode.PERMISSION_DENIED, reason)
    assert await served.counts() == (rows, audit + 1)
    denial = (await served.audit())[-1]
    assert denial["outcome"] == "deny" and denial["reason"] == reason


def cli_args(served: Served, file: Path, *, partial: bool = False) -> argparse.Namespace:
    return argparse.Namespace(
        file=str(file),
        partial=partial,
        server=served.target,
        pki="",
        system=SYSTEM,
        user="worker-1",
        role="caseworker",
        insecure_plaintext=True,
    )


async def test_cli_import_names_bad_rows_and_is_all_or_nothing(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = csv_rows("HH-2")
    rows[1] = rows[1].replace(",spouse,", ",cousin,")
    path = tmp_path / "roster.csv"
    path.write_text("\n".join([CSV_HEADER, *csv_rows("HH-1"), *rows]) + "\n", encoding="utf-8")
    code = await asyncio.to_thread(
        roster_cmds.roster_import, served.app.config, cli_args(served, path)
    )
    assert code == 1
    assert "line 5: relation:" in capsys.readouterr().err
    assert await served.counts() == (0, 0)
    code = await asyncio.to_thread(
        roster_cmds.roster_import, served.app.config, cli_args(served, path, partial=True)
    )
    assert code == 0
    assert (await served.counts())[0] == 1
    # The same file again changes nothing.
    code = await asyncio.to_thread(
        roster_cmds.roster_import, served.app.config, cli_args(served, path, partial=True)
    )
    out = capsys.readouterr().out
    assert code == 0 and "新增 0" in out and "未变 1" in out


async def test_due_listing_through_the_api(served: Served) -> None:
    entries = file_entries("HH-1", "HH-2")
    entries[0].last_check_date.CopyFrom(date_pb2.Date(year=2020, month=1, day=6))
    async with served.client() as c:
        await c.import_roster(pb.ImportRosterRequest(entries=entries))
        overdue = await c.list_roster(pb.ListRosterEntriesRequest(overdue=True))
        assert [e.household_ref for e in overdue.entries] == ["HH-1"]
        assert overdue.entries[0].overdue
        assert overdue.entries[0].last_check.outcome == pb.CHECK_OUTCOME_RECORDED
        by_class = await c.list_roster(
            pb.ListRosterEntriesRequest(roster_class=pb.ROSTER_CLASS_TEKUN)
        )
        assert list(by_class.entries) == []
        by_program = await c.list_roster(
            pb.ListRosterEntriesRequest(program=common.PURPOSE_DIBAO, page_size=1)
        )
        assert len(by_program.entries) == 1 and by_program.next_page_token
        rest = await c.list_roster(
            pb.ListRosterEntriesRequest(
                program=common.PURPOSE_DIBAO, page_size=1, page_token=by_program.next_page_token
            )
        )
        assert [e.household_ref for e in rest.entries] == ["HH-2"]
        assert rest.next_page_token == ""


@pytest.fixture
async def scheduling(database_url: str, keys_dir: Path) -> AsyncIterator[Served]:
    """A server whose scheduler runs, with the real 授权书 registry."""
    app = await make_app(
        database_url,
        keys_dir,
        {SourceKind.TAX: FakeAdapter(SourceKind.TAX)},
        real_consents=True,
        principals=PRINCIPALS,
        roster=RosterConfig(interval=0.1, lease_seconds=10),
    )
    running = await serve_app(app, "127.0.0.1:0")
    try:
        yield Served(app, f"127.0.0.1:{running.port}")
    finally:
        await running.stop(0)
        await app.aclose()


async def until_entry(c: Client, ref: str, done: Any) -> pb.RosterEntry:
    """Read the entry until ``done(entry)``: the scheduler works in the background."""
    async with asyncio.timeout(60):
        while True:
            entry = await c.get_roster_entry(ref)
            if done(entry):
                return entry
            await asyncio.sleep(0.1)  # polling the server, which the scheduler updates


async def test_the_scheduler_rechecks_due_households_through_the_server(
    scheduling: Served,
) -> None:
    assert scheduling.app.consents is not None
    worker = Caller(SYSTEM, "worker-1", "caseworker", ("3418",))
    ids = member_ids("HH-1")
    await scheduling.app.consents.register(
        worker,
        consent_draft(
            "SQ-HH-1", [(ids[0], Relation.APPLICANT), (ids[1], Relation.SPOUSE)], region="341824"
        ),
    )
    entries = file_entries("HH-1", "HH-2")  # HH-2's 授权书 was never registered
    last = china_date(datetime.now(UTC)) - timedelta(days=400)
    for e in entries:
        e.last_check_date.CopyFrom(date_pb2.Date(year=last.year, month=last.month, day=last.day))
    async with scheduling.client() as c:
        await c.import_roster(pb.ImportRosterRequest(entries=entries))
        checked = await until_entry(c, "HH-1", lambda e: e.last_check.verification_id)
        refused = await until_entry(
            c, "HH-2", lambda e: e.recheck_state == pb.RECHECK_STATE_REAUTHORIZATION_NEEDED
        )
    assert checked.last_check.outcome == pb.CHECK_OUTCOME_COMPLETE
    assert checked.recheck_state == pb.RECHECK_STATE_NOT_DUE and not checked.overdue
    assert refused.recheck_reason == "CONSENT_MISSING" and refused.overdue
    assert isinstance(scheduling.app.store, SqlStore)
    async with scheduling.app.store.db.read_sessions() as s:
        checks = (
            await s.execute(
                select(VerificationRow.id, VerificationRow.request_id).where(
                    VerificationRow.caller_system == SYSTEM
                )
            )
        ).all()
    assert [vid for vid, _ in checks] == [checked.last_check.verification_id]
    assert checks[0][1].startswith("recheck-")
    actions = [(e["action"], e["outcome"]) for e in await scheduling.audit()]
    assert actions.count(("recheck_scheduled", "recorded")) == 2
    assert ("reauthorization_needed", "recorded") in actions
    assert ("alert_raised", "recorded") in actions
