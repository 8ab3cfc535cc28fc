"""Shared ground for the end-to-end alert tests: a real gRPC server over the built-in
adapters and the sandbox departments (the ``stack`` fixture, on SQLite and PostgreSQL),
the sandbox households and life events, and readers that wait for changes and alerts.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from google.type import date_pb2
from hedui.v1 import alerts_pb2 as pb
from hedui.v1 import common_pb2 as common

from hedui_sdk import Adapter, SourceKind, SourceQuery, SourceResult
from hedui_sdk.sandbox import Household, Population, Profile, SandboxHandle, generate_population
from hedui_sdk.sandbox import start_sandbox as start_sandbox_server
from tests.fakes import AllowAllConsents
from tests.helpers import SYSTEM, config
from verifier.api.alerts_client import AlertClient
from verifier.api.client import Client, request_from_json
from verifier.bootstrap import App, build_app, load_adapters, serve_app
from verifier.config import Principal, sandbox_sources
from verifier.storage.uow import SqlStore

T = TypeVar("T")

AS_OF = date(2025, 12, 31)
RECENT = (datetime.now(UTC) - timedelta(days=3)).date()  # a warning date before today
WINDOW = {
    "start_date": {"year": 2025, "month": 1, "day": 1},
    "end_date": {"year": 2025, "month": 12, "day": 31},
}
SOURCES = [k for k in SourceKind if k is not SourceKind.BANK]  # the bank answers days later
OPS = "ops-console"
PRINCIPALS = {
    SYSTEM: Principal(SYSTEM, ("caseworker", "reviewer", "auditor"), ("3703",)),
    "case-system-b": Principal("case-system-b", ("caseworker",), ("3418",)),
    OPS: Principal(OPS, ("admin",), ("37",)),
}


@functools.cache
def population() -> Population:
    return generate_population(41, households_per_county=24, as_of=AS_OF)


def _plain(h: Household) -> bool:
    return h.mismatch is None and len(h.members) >= 2 and not h.outsiders


@functools.cache
def households() -> tuple[Household, Household]:
    """Two low-income households of 高青 (370322): one whose life changes, one whose does not."""
    low = [
        h
        for h in population().all_households
        if h.region == "370322" and h.profile is Profile.LOW_INCOME and _plain(h)
    ]
    return low[0], low[1]


def household_doc(h: Household, request_id: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "case_id": f"CASE-{h.household_id}",
        "authorization_id": "SQ-ALERTS-1",
        "purposes": ["PURPOSE_DIBAO", "PURPOSE_DIBAO_BIANYUAN"],
        "household": {
            "region_code": h.region,
            "members": [
                {
                    "id_type": "ID_TYPE_RESIDENT_ID",
                    "id_number": p.id_number,
                    "name": p.name,
                    "relation": "RELATION_APPLICANT" if i == 0 else f"RELATION_{p.relation.name}",
                }
                for i, p in enumerate(h.members)
            ],
        },
        "hukou_nature": "HUKOU_NATURE_URBAN" if h.urban else "HUKOU_NATURE_RURAL",
        "sources": [f"SOURCE_KIND_{s.name}" for s in SOURCES],
        "window": WINDOW,
    }


def life_events(h: Household) -> list[dict[str, Any]]:
    return [
        {
            "id": "raise-1",
            "type": "income_change",
            "household": h.household_id,
            "member": 0,
            "effective": "2025-06-01",
            "stream": "wages",
            "amount_fen": 2_500_000,
        },
        {
            "id": "car-1",
            "type": "new_vehicle",
            "household": h.household_id,
            "member": 0,
            "effective": "2025-06-01",
            "kind": "car",
            "value_fen": 12_000_000,
        },
        {
            "id": "death-1",
            "type": "death",
            "household": h.household_id,
            "member": 1,
            "effective": "2025-09-30",
        },
    ]


class Counting:
    """A built-in adapter, counted: proves which calls reach a department."""

    def __init__(self, inner: Adapter) -> None:
        self.inner = inner
        self.name = inner.name
        self.version = inner.version
        self.source = inner.source
        self.calls = 0

    async def query(self, q: SourceQuery) -> SourceResult:
        self.calls += 1
        return await self.inner.query(q)

    async def poll(self, ticket: str) -> SourceResult:
        self.calls += 1
        return await self.inner.poll(ticket)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Stack:
    app: App
    sandbox: SandboxHandle
    port: int
    counted: list[Counting]

    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def checks(self) -> Client:
        return Client(self.target(), user="worker-1", system=SYSTEM)

    def alerts(self, role: str = "caseworker", system: str = SYSTEM) -> AlertClient:
        user = {"admin": "admin-1", "reviewer": "reviewer-1"}.get(role, "worker-1")
        return AlertClient(self.target(), user=user, role=role, system=system)

    def source_calls(self) -> int:
        return sum(a.calls for a in self.counted)

    async def check(self, h: Household, request_id: str) -> str:
        async with self.checks() as c:
            v = await c.create(request_from_json(household_doc(h, request_id), wait=True))
        assert v.latest_report_version >= 1
        return v.verification_id

    async def table_rows(self, table: str) -> int:
        assert isinstance(self.app.store, SqlStore)
        from sqlalchemy import text

        async with self.app.store.db.read_engine.connect() as conn:
            return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


@pytest.fixture
async def stack(database_url: str, keys_dir: Path) -> AsyncIterator[Stack]:
    sandbox = await start_sandbox_server(population=population(), faults={})
    cfg = config(
        database_url,
        keys_dir,
        sources={k: v for k, v in sandbox_sources(sandbox.port).items() if k in SOURCES},
        principals=PRINCIPALS,
        poll_interval=0.05,
    )
    counted = {k: Counting(a) for k, a in load_adapters(cfg).items()}
    app = await build_app(
        cfg,
        adapters=dict[SourceKind, Adapter](counted),
        migrate=False,
        # The 授权书 registry is exercised by the warnings: checks here are covered.
        consent_gate=AllowAllConsents(),
    )
    server = await serve_app(app, "127.0.0.1:0", health_interval=0.05)
    try:
        yield Stack(app, sandbox, server.port, list(counted.values()))
    finally:
        await server.stop(0)
        await app.aclose()
        await sandbox.stop()


async def eventually(read: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Re-read until ``read`` gives something (the change recorder runs in the
    background), within a bounded deadline."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = await read()
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not there after 30 s")


async def changes_of(stack: Stack, vid: str) -> pb.ChangeDocument:
    async def read() -> pb.ChangeDocument | None:
        async with stack.alerts() as c:
            page = await c.list_changes(pb.ListChangesRequest(verification_id=vid))
        return page.changes[0] if page.changes else None

    return await eventually(read, f"the change document of {vid}")


async def alerts_of(stack: Stack, household_ref: str) -> list[pb.Alert]:
    async with stack.alerts() as c:
        page = await c.list_alerts(pb.ListAlertsRequest(household_ref=household_ref))
    return list(page.alerts)


def refusal(err: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, list[str]]:
    """The code, and the fields (BadRequest) or the reason (ErrorInfo) it names."""
    named: list[str] = []
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                br = error_details_pb2.BadRequest()
                detail.Unpack(br)
                named += [v.field for v in br.field_violations]
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                named.append(info.reason)
    return err.code(), named


async def refused(call: Awaitable[object]) -> tuple[grpc.StatusCode, list[str]]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return refusal(err.value)


def warning_line(person: tuple[str, str], warning_id: str, **kw: Any) -> str:
    number, name = person
    fields: dict[str, Any] = dict(
        id_type=common.ID_TYPE_RESIDENT_ID,
        id_number=number,
        name=name,
        department=pb.WARNING_DEPARTMENT_MEDICAL_INSURANCE,
        reason=pb.WARNING_REASON_SERIOUS_ILLNESS,
        warning_date=date_pb2.Date(year=RECENT.year, month=RECENT.month, day=RECENT.day),
        region_code="370322",
        warning_id=warning_id,
    )
    msg = pb.ExternalWarning(**(fields | kw))
    return json_format.MessageToJson(msg, indent=None)
