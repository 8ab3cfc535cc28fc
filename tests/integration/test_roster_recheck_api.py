"""Roster re-checks over a real grpc.aio server, on both databases: the scheduler's
re-check belongs to the case system that imported the household (its GetReport,
ListVerifications and Watch), not to the scheduler; another system cannot read it."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.type import date_pb2
from hedui.v1 import roster_pb2 as pb
from hedui.v1 import verification_pb2 as vpb
from sqlalchemy import select, text

from audit.schema import AuditEntryRow
from hedui_sdk import SourceKind
from tests.consents import consent_draft
from tests.fakes import FakeAdapter
from tests.helpers import make_app
from tests.integration.test_roster_api import file_entries, refusal
from tests.roster import member_ids
from verifier.api.client import Client
from verifier.bootstrap import App, serve_app
from verifier.cli import roster_cmds
from verifier.config import Principal, RosterConfig
from verifier.domain.caller import Caller
from verifier.domain.household import Relation
from verifier.domain.roster import china_date
from verifier.storage.uow import SqlStore

SYSTEM = "county-system"
NEIGHBOUR = "neighbour-system"
PRINCIPALS = {
    SYSTEM: Principal(SYSTEM, ("caseworker", "reviewer", "admin"), ("3418",)),
    # The same region, another case system: it must not read the county's re-checks.
    NEIGHBOUR: Principal(NEIGHBOUR, ("caseworker", "reviewer"), ("3418",)),
}
WORKER = Caller(SYSTEM, "worker-1", "caseworker", ("3418",))


@dataclass
class Served:
    app: App
    target: str

    def client(self, system: str = SYSTEM, role: str = "caseworker") -> Client:
        return Client(self.target, user="worker-1", role=role, system=system)

    async def audit(self) -> list[dict[str, Any]]:
        assert isinstance(self.app.store, SqlStore)
        async with self.app.store.db.read_sessions() as s:
            rows = (await s.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq))).scalars()
            return [json.loads(r.body) for r in rows]

    async def register(self, ref: str) -> None:
        assert self.app.consents is not None
        ids = member_ids(ref)
        await self.app.consents.register(
            WORKER,
            consent_draft(
                f"SQ-{ref}",
                [(ids[0], Relation.APPLICANT), (ids[1], Relation.SPOUSE)],
                region="341824",
            ),
        )


async def serve(database_url: str, keys_dir: Path, roster: RosterConfig) -> Served:
    app = await make_app(
        database_url,
        keys_dir,
        {SourceKind.TAX: FakeAdapter(SourceKind.TAX)},
        real_consents=True,
        principals=PRINCIPALS,
        roster=roster,
    )
    running = await serve_app(app, "127.0.0.1:0")
    served = Served(app, f"127.0.0.1:{running.port}")
    served.stop = running.stop  # type: ignore[attr-defined]
    return served


@pytest.fixture
async def scheduling(database_url: str, keys_dir: Path) -> AsyncIterator[Served]:
    served = await serve(database_url, keys_dir, RosterConfig(interval=0.1, lease_seconds=10))
    try:
        yield served
    finally:
        await served.stop(0)  # type: ignore[attr-defined]
        await served.app.aclose()


async def until_entry(c: Client, ref: str, done: Any) -> pb.RosterEntry:
    """Read the entry until ``done(entry)``: the scheduler works in the background."""
    async with asyncio.timeout(60):
        while True:
            entry = await c.get_roster_entry(ref)
            if done(entry):
                return entry
            await asyncio.sleep(0.1)  # polling the server, which the scheduler updates


def due_last_year(entries: list[pb.RosterEntry], days: int = 400) -> list[pb.RosterEntry]:
    """The entries with a last check ``days`` ago (400: due now; a few: not due)."""
    last = china_date(datetime.now(UTC)) - timedelta(days=days)
    for e in entries:
        e.last_check_date.CopyFrom(date_pb2.Date(year=last.year, month=last.month, day=last.day))
    return entries


async def test_a_scheduled_recheck_belongs_to_the_system_that_imported_the_household(
    scheduling: Served,
) -> None:
    await scheduling.register("HH-1")
    async with scheduling.client() as c:
        await c.import_roster(pb.ImportRosterRequest(entries=due_last_year(file_entries("HH-1"))))
        entry = await until_entry(c, "HH-1", lambda e: e.last_check.verification_id)
        vid = entry.last_check.verification_id
        report = await c.report(vid)
        assert report.summary is not None and report.envelope
        listed = await c.list_verifications(vpb.ListVerificationsRequest(case_id="CASE-HH-1"))
        assert [v.verification_id for v in listed.verifications] == [vid]
        assert listed.verifications[0].request_id.startswith("recheck-")
        got = await c.get(vid)
        assert got.verification_id == vid
    async with scheduling.client(NEIGHBOUR) as other:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await other.report(vid)
        assert info.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)
        listed = await other.list_verifications(vpb.ListVerificationsRequest())
        assert list(listed.verifications) == []
    entries = await scheduling.audit()
    # The check's own entries: for the county's system, by the scheduler's user.
    [allowed] = [e for e in entries if e["action"] == "authorize" and e["outcome"] == "allow"]
    assert allowed["actor"]["system"] == SYSTEM
    assert allowed["actor"]["user"] == "recheck-scheduler"
    # The scheduler's own entry names itself and the system it acted for.
    [scheduled] = [e for e in entries if e["action"] == "recheck_scheduled"]
    assert scheduled["actor"]["system"] == "hedui-roster"
    assert scheduled["details"]["for_system"] == SYSTEM


# ------------------------------------------------------------------ re-check now
async def rows(served: Served, sql: str) -> list[Any]:
    assert isinstance(served.app.store, SqlStore)
    async with served.app.store.db.read_sessions() as s:
        return list((await s.execute(text(sql))).all())


async def written(served: Served) -> tuple[int, int, int, int]:
    """(re-check jobs, verifications, audit entries, alerts)."""
    counts = []
    for table in ("recheck_jobs", "verifications", "audit_entries", "alerts"):
        [(n,)] = await rows(served, f"SELECT count(*) FROM {table}")
        counts.append(int(n))
    return counts[0], counts[1], counts[2], counts[3]


async def test_recheck_now_runs_once_per_request_id_for_the_importing_system(
    scheduling: Served,
) -> None:
    await scheduling.register("HH-1")
    async with scheduling.client() as c:
        # Checked this month by the case system: not due for a year.
        await c.import_roster(
            pb.ImportRosterRequest(entries=due_last_year(file_entries("HH-1"), days=3))
        )
        before = await c.get_roster_entry("HH-1")
        assert before.recheck_state == pb.RECHECK_STATE_NOT_DUE
        first = await c.recheck_roster_entry("HH-1", "341824", "now-1", urgent=True)
        assert first.verification_id and not first.replayed
        assert first.check_request_id.startswith("recheck-")
        again = await c.recheck_roster_entry("HH-1", "341824", "now-1", urgent=True)
        assert (again.verification_id, again.replayed) == (first.verification_id, True)
        # Its first report becomes the entry's last check; the cycle counts from it.
        entry = await until_entry(
            c, "HH-1", lambda e: e.last_check.verification_id == first.verification_id
        )
        # Urgent: its first report may come before every source answered.
        assert entry.last_check.outcome in (pb.CHECK_OUTCOME_COMPLETE, pb.CHECK_OUTCOME_PARTIAL)
        report = await c.report(first.verification_id)
        assert report.envelope
        got = await c.get(first.verification_id)
        assert got.urgent and got.request_id == first.check_request_id
        # Another request id is another re-check.
        second = await c.recheck_roster_entry("HH-1", "341824", "now-2")
        assert second.verification_id != first.verification_id
        # Not waited for, not cut short: its sources answer within their own deadline.
        entry = await until_entry(
            c, "HH-1", lambda e: e.last_check.verification_id == second.verification_id
        )
        assert entry.last_check.outcome == pb.CHECK_OUTCOME_COMPLETE
    checks = await rows(
        scheduling,
        f"SELECT request_id FROM verifications WHERE caller_system = '{SYSTEM}'",
    )
    assert sorted(r for (r,) in checks) == sorted([first.check_request_id, second.check_request_id])
    jobs = await rows(scheduling, "SELECT on_demand, urgent FROM recheck_jobs")
    assert sorted((bool(a), bool(b)) for a, b in jobs) == [(True, False), (True, True)]
    asked = [
        e
        for e in await scheduling.audit()
        if e["action"] == "recheck_scheduled" and e["details"].get("on_demand")
    ]
    # Audited once per re-check made, by the person who asked, for the owning system.
    assert [(e["actor"]["user"], e["details"]["urgent"]) for e in asked] == [
        ("worker-1", True),
        ("worker-1", False),
    ]
    assert all(e["details"]["for_system"] == SYSTEM for e in asked)
    origins = [
        e["details"]["origin"]
        for e in await scheduling.audit()
        if e["action"] == "authorize" and e["outcome"] == "allow"
    ]
    assert origins == ["roster", "roster"]


async def test_recheck_now_without_a_covering_authorization_writes_only_the_alert(
    scheduling: Served,
) -> None:
    async with scheduling.client() as c:
        # HH-2's 授权书 was never registered.
        await c.import_roster(
            pb.ImportRosterRequest(entries=due_last_year(file_entries("HH-2"), days=3))
        )
        jobs, checks, audit, alerts = await written(scheduling)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await c.recheck_roster_entry("HH-2", "341824", "now-1")
    code, _, reason = refusal(info.value)
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "CONSENT_MISSING")
    # No job and no check: the scheduler's refusal, its audit entry and alert.
    after = await written(scheduling)
    assert after[:2] == (jobs, checks) and after[3] == alerts + 1
    entries = await scheduling.audit()
    assert [e["action"] for e in entries[audit:]] == ["reauthorization_needed", "alert_raised"]
    assert entries[audit]["reason"] == "CONSENT_MISSING"
    assert entries[audit]["details"]["on_demand"] is True


@pytest.mark.parametrize(
    ("ref", "region", "request_id", "fields"),
    [
        ("", "341824", "now-1", ["household_ref"]),
        ("HH-1", "34182", "now-1", ["region_code"]),
        ("HH-1", "341824", "", ["request_id"]),
        ("HH 1", "", "3418241960030900X1", ["household_ref", "region_code"]),
    ],
)
async def test_recheck_now_refuses_bad_arguments_by_field_and_writes_nothing(
    scheduling: Served, ref: str, region: str, request_id: str, fields: list[str]
) -> None:
    await scheduling.register("HH-1")
    async with scheduling.client() as c:
        await c.import_roster(
            pb.ImportRosterRequest(entries=due_last_year(file_entries("HH-1"), days=3))
        )
        before = await written(scheduling)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await c.recheck_roster_entry(ref, region, request_id)
    code, named, _ = refusal(info.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert all(f in named for f in fields)
    assert await written(scheduling) == before


@pytest.mark.parametrize(
    ("role", "region", "code", "reason"),
    [
        ("reviewer", "341824", grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_ALLOWED"),
        ("caseworker", "370322", grpc.StatusCode.PERMISSION_DENIED, "OUT_OF_REGION"),
        ("caseworker", "341825", grpc.StatusCode.NOT_FOUND, ""),
    ],
)
async def test_recheck_now_refusals_write_at_most_their_denial(
    scheduling: Served, role: str, region: str, code: grpc.StatusCode, reason: str
) -> None:
    await scheduling.register("HH-1")
    async with scheduling.client() as c:
        await c.import_roster(
            pb.ImportRosterRequest(entries=due_last_year(file_entries("HH-1"), days=3))
        )
    jobs, checks, audit, alerts = await written(scheduling)
    async with scheduling.client(role=role) as c:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await c.recheck_roster_entry("HH-1", region, "now-1")
    got, _, why = refusal(info.value)
    assert (got, why) == (code, reason)
    denials = 1 if reason else 0
    assert await written(scheduling) == (jobs, checks, audit + denials, alerts)
    if denials:
        last = (await scheduling.audit())[-1]
        assert (last["action"], last["outcome"], last["reason"]) == (
            "recheck_scheduled",
            "deny",
            reason,
        )


async def test_cli_recheck_starts_one_and_repeats_it_by_request_id(
    scheduling: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    await scheduling.register("HH-1")
    async with scheduling.client() as c:
        await c.import_roster(
            pb.ImportRosterRequest(entries=due_last_year(file_entries("HH-1"), days=3))
        )

    def args(**kw: Any) -> argparse.Namespace:
        base: dict[str, Any] = dict(
            ref="HH-1", region="341824", urgent=False, request_id=None,
            server=scheduling.target, pki="", system=SYSTEM, user="worker-1",
            role="caseworker", insecure_plaintext=True,
        )  # fmt: skip
        return argparse.Namespace(**{**base, **kw})

    code = await asyncio.to_thread(roster_cmds.roster_recheck, scheduling.app.config, args())
    out = capsys.readouterr().out
    assert code == 0 and "re-check of 341824/HH-1 started" in out
    [vid] = re.findall(r"verification ([0-9a-f-]{36})", out)
    [rid] = re.findall(r"request id (\S+)", out)
    code = await asyncio.to_thread(
        roster_cmds.roster_recheck, scheduling.app.config, args(request_id=rid)
    )
    again = capsys.readouterr().out
    assert code == 0 and f"verification {vid}" in again and "earlier re-check" in again
    code = await asyncio.to_thread(
        roster_cmds.roster_recheck, scheduling.app.config, args(ref="HH-9")
    )
    assert code == 1 and "NOT_FOUND" in capsys.readouterr().err
    assert len(await rows(scheduling, "SELECT id FROM recheck_jobs")) == 1
