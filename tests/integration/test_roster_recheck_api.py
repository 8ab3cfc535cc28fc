"""Roster re-checks over a real grpc.aio server, on both databases: the scheduler's
re-check belongs to the case system that imported the household (its GetReport,
ListVerifications and Watch), not to the scheduler; another system cannot read it."""

from __future__ import annotations

import asyncio
import json
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
from sqlalchemy import select

from audit.schema import AuditEntryRow
from hedui_sdk import SourceKind
from tests.consents import consent_draft
from tests.fakes import FakeAdapter
from tests.helpers import make_app
from tests.integration.test_roster_api import file_entries
from tests.roster import member_ids
from verifier.api.client import Client
from verifier.bootstrap import App, serve_app
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


def due_last_year(entries: list[pb.RosterEntry]) -> list[pb.RosterEntry]:
    last = china_date(datetime.now(UTC)) - timedelta(days=400)
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
