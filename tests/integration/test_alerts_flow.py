"""Changes and alerts end to end, on SQLite and PostgreSQL: a real gRPC server over the
built-in adapters and the sandbox departments.

A household is checked, life events change its sandbox data (a pay rise far across the
低保 standard, a new car, a member's death), and it is checked again: the comparison
names the right change codes in a signed document and raises one alert per code on the
region's terms, each with its ``alert.raised`` webhook event. A second household checked
twice with no event gets an empty change document and no alert. Staff then work an
alert over gRPC; every refusal (bad filter, wrong role or region, bad resolution, bad
warning row) is INVALID_ARGUMENT or PERMISSION_DENIED naming the field or reason, and
writes nothing. Imported warnings become an alert (a 授权书 covers the person) or an
outreach ledger entry (none does), and no department is asked anything.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

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
from tests.consents import consent_draft
from tests.fakes import AllowAllConsents, synthetic_id
from tests.helpers import SYSTEM, config
from tests.pii import PiiScanner, assert_clean
from verifier.api.alerts_client import AlertClient, warnings_from_lines
from verifier.api.client import Client, request_from_json
from verifier.bootstrap import App, build_app, load_adapters, serve_app
from verifier.config import Principal, sandbox_sources
from verifier.domain.alerts import REAUTHORIZATION_NEEDED
from verifier.domain.caller import Caller
from verifier.domain.changes import ChangeCode
from verifier.domain.household import Relation
from verifier.domain.webhooks import EventType, OutboxEvent
from verifier.signing.changes import verify_changes
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import key_id
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


@functools.cache
def third_household() -> Household:
    """A third low-income household of 高青, for a member moving out."""
    return next(
        h
        for h in population().all_households
        if h.region == "370322"
        and h.profile is Profile.LOW_INCOME
        and _plain(h)
        and h not in households()
    )


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


async def test_changed_household_gets_its_codes_and_alerts_the_unchanged_one_none(
    stack: Stack,
) -> None:
    changing, steady = households()
    first = await stack.check(changing, "h1-1")
    steady_first = await stack.check(steady, "h2-1")
    applied = await stack.sandbox.apply_events(life_events(changing))
    assert len(applied.applied) == 3
    second = await stack.check(changing, "h1-2")
    steady_second = await stack.check(steady, "h2-2")

    doc = await changes_of(stack, second)
    # GetChanges names a version (1 or more) or leaves it unset for the latest; 0 is refused.
    async with stack.alerts() as c:
        assert (await c.get_changes(second, doc.version)).envelope == doc.envelope
        assert await refused(c.get_changes(second, 0)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            ["version"],
        )
    keys = {key_id(k): k for k in stack.app.keys.public_keys("signing")}
    body = verify_changes(doc.envelope, keys).document
    assert doc.previous_verification_id == first and doc.household_figures_compared
    assert body["previous"]["verification_id"] == first
    codes = set(doc.codes)
    assert {
        ChangeCode.INCOME_ABOVE_DIBAO_STANDARD,
        ChangeCode.VEHICLE_ADDED,
        ChangeCode.HUKOU_CANCELLED,
    } <= codes, codes
    # The death is the member's 户籍 cancelled (注销, 死亡), not their leaving the 户口簿.
    (death,) = [c for c in body["changes"] if c["code"] == ChangeCode.HUKOU_CANCELLED]
    assert death["cancel_reason"] == "death" and death["member"]["index_after"] == 1
    assert ChangeCode.HUKOU_MEMBER_REMOVED not in codes
    # The report counts the dead member no longer registered, and lists the cancellation
    # by member index and relation (never a name), its record as evidence.
    async with stack.checks() as checks:
        before, after = [
            verify_envelope((await checks.report(v)).envelope, keys).document
            for v in (first, second)
        ]
    size = len(changing.members)
    assert before["aggregates"]["household_size_registered"] == size
    assert after["aggregates"]["household_size_registered"] == size - 1
    (cancelled,) = [d for d in after["discrepancies"] if d["kind"] == "registration_cancelled"]
    assert cancelled["category"] == "death" and "户籍已注销：死亡" in cancelled["text"]
    assert cancelled["text"].startswith("申报的家庭成员 1（")
    assert [e["member"] for e in cancelled["evidence"]] == [1]
    assert not [d for d in before["discrepancies"] if d["kind"] == "registration_cancelled"]
    # The changed household: one alert per code, on the region's terms.
    raised = await alerts_of(stack, doc.household_ref)
    by_reason = {a.reason: a for a in raised}
    assert set(by_reason) == codes and len(raised) == len(codes)
    income = by_reason[ChangeCode.INCOME_ABOVE_DIBAO_STANDARD]
    assert income.risk_level == pb.RISK_LEVEL_HIGH and income.HasField("act_by_date")
    assert by_reason[ChangeCode.VEHICLE_ADDED].risk_level == pb.RISK_LEVEL_MEDIUM
    assert by_reason[ChangeCode.HUKOU_CANCELLED].risk_level == pb.RISK_LEVEL_HIGH
    assert all(a.verification_id == second and a.kind == pb.ALERT_KIND_CHANGE for a in raised)
    details = json.loads(income.details_json)
    assert details["change_document"]["envelope_sha256"] == doc.envelope_sha256
    assert details["basis"]["risk"]["status"] == "example"
    # Each alert has its webhook event, committed with it.
    async with stack.app.store.unit_of_work(write=False) as uow:
        for a in raised:
            event = await uow.outbox.get(OutboxEvent.derive_id(EventType.ALERT_RAISED, a.alert_id))
            assert event is not None and event.data_dict()["verification_id"] == second

    # The unchanged household: an empty document, no alert.
    steady_doc = await changes_of(stack, steady_second)
    assert steady_doc.previous_verification_id == steady_first
    assert list(steady_doc.codes) == [] and steady_doc.household_figures_compared
    assert await alerts_of(stack, steady_doc.household_ref) == []

    # Nothing personal in any table or in the audit log.
    people = [*changing.members, *steady.members]
    scanner = PiiScanner([p.id_number for p in people], [p.name for p in people])
    assert isinstance(stack.app.store, SqlStore)
    assert_clean(await scanner.database(stack.app.store.db))
    assert_clean(await scanner.audit(stack.app.store.db))


async def test_a_member_moving_out_is_a_removal_from_the_hukou_not_a_cancellation(
    stack: Stack,
) -> None:
    moving = third_household()
    await stack.check(moving, "h3-1")
    event = {
        "id": "move-1",
        "type": "member_moved_out",
        "household": moving.household_id,
        "member": 1,
        "effective": "2025-09-30",
    }
    assert len((await stack.sandbox.apply_events([event])).applied) == 1
    doc = await changes_of(stack, await stack.check(moving, "h3-2"))
    codes = set(doc.codes)
    assert ChangeCode.HUKOU_MEMBER_REMOVED in codes and ChangeCode.HUKOU_CANCELLED not in codes
    raised = {a.reason: a for a in await alerts_of(stack, doc.household_ref)}
    assert set(raised) == codes
    assert raised[ChangeCode.HUKOU_MEMBER_REMOVED].risk_level == pb.RISK_LEVEL_MEDIUM


async def test_staff_work_an_alert_and_refusals_write_nothing(stack: Stack) -> None:
    changing, _ = households()
    await stack.check(changing, "w-1")
    await stack.sandbox.apply_events(life_events(changing))
    second = await stack.check(changing, "w-2")
    doc = await changes_of(stack, second)
    alert = (await alerts_of(stack, doc.household_ref))[0]
    rows = {t: await stack.table_rows(t) for t in ("alerts", "alert_events", "webhook_outbox")}
    audit = await stack.table_rows("audit_entries")

    async with stack.alerts() as worker, stack.alerts("reviewer") as reviewer:
        assert await refused(worker.list_alerts(pb.ListAlertsRequest(page_size=501))) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            ["page_size"],
        )
        assert await refused(
            worker.list_alerts(pb.ListAlertsRequest(household_ref="xyz", owner="a b"))
        ) == (grpc.StatusCode.INVALID_ARGUMENT, ["owner", "household_ref"])
        assert await refused(worker.list_alerts(pb.ListAlertsRequest(state=cast(Any, 99)))) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            ["state"],
        )
        assert await refused(worker.list_alerts(pb.ListAlertsRequest(page_token="not-ours"))) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            ["page_token"],
        )
        bad_day = pb.ListAlertsRequest(created_from=date_pb2.Date(year=2026, month=2, day=30))
        assert await refused(worker.list_alerts(bad_day)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            ["created_from"],
        )
        assert await refused(
            worker.resolve(
                pb.ResolveAlertRequest(alert_id=alert.alert_id, resolution=pb.RESOLUTION_REFERRED)
            )
        ) == (grpc.StatusCode.INVALID_ARGUMENT, ["program"])
        assert await refused(
            worker.list_changes(pb.ListChangesRequest(page_size=501, verification_id="x"))
        ) == (grpc.StatusCode.INVALID_ARGUMENT, ["page_size", "verification_id"])
        assert await refused(worker.get("nope")) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            ["alert_id"],
        )
        assert await stack.table_rows("audit_entries") == audit  # INVALID_ARGUMENT: nothing
        async with stack.alerts("auditor") as auditor:
            assert await refused(auditor.list_alerts(pb.ListAlertsRequest())) == (
                grpc.StatusCode.PERMISSION_DENIED,
                ["ROLE_NOT_ALLOWED"],
            )
        assert await refused(worker.list_alerts(pb.ListAlertsRequest(region_prefix="3418"))) == (
            grpc.StatusCode.PERMISSION_DENIED,
            ["OUT_OF_REGION"],
        )
        async with stack.alerts(system="case-system-b") as elsewhere:
            code, _ = await refused(elsewhere.acknowledge(alert.alert_id))
            assert code is grpc.StatusCode.NOT_FOUND
        # Each PERMISSION_DENIED and the NOT_FOUND across regions: one denial entry each.
        assert await stack.table_rows("audit_entries") == audit + 3
        for table, count in rows.items():
            assert await stack.table_rows(table) == count, table

        acked = await worker.acknowledge(alert.alert_id, note="入户核实")
        assert acked.state == pb.ALERT_STATE_ACKNOWLEDGED and acked.owner == "worker-1"
        done = await reviewer.resolve(
            pb.ResolveAlertRequest(
                alert_id=alert.alert_id,
                resolution=pb.RESOLUTION_REFERRED,
                program=pb.REFERRAL_PROGRAM_LINSHI,
                note="转临时救助",
            )
        )
        assert done.state == pb.ALERT_STATE_RESOLVED
        assert done.referred_program == pb.REFERRAL_PROGRAM_LINSHI
        assert [e.event for e in done.history] == ["raised", "acknowledged", "resolved"]
        code, _ = await refused(worker.acknowledge(alert.alert_id))
        assert code is grpc.StatusCode.FAILED_PRECONDITION
        shown = await reviewer.get(alert.alert_id)
        assert shown.resolution == pb.RESOLUTION_REFERRED and not shown.overdue
        resolved = await reviewer.list_alerts(
            pb.ListAlertsRequest(state=pb.ALERT_STATE_RESOLVED, household_ref=doc.household_ref)
        )
        assert [a.alert_id for a in resolved.alerts] == [alert.alert_id]


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


async def test_warnings_become_alerts_or_outreach_entries_and_ask_no_source(
    stack: Stack,
) -> None:
    _, steady = households()
    applicant, spouse = steady.members[0], steady.members[1]
    assert stack.app.consents is not None
    worker = Caller(SYSTEM, "worker-1", "caseworker", ("3703",))
    await stack.app.consents.register(
        worker,
        consent_draft(
            "SQ-WARN-1",
            [(applicant.id_number, Relation.APPLICANT), (spouse.id_number, Relation.SPOUSE)],
        ),
    )
    stranger = (synthetic_id(seq=61, born=date(1961, 3, 3)), "测试庚")
    lines = [
        warning_line((spouse.id_number, spouse.name), "YB-2026-11-0001"),
        warning_line(stranger, "YB-2026-11-0002", reason=pb.WARNING_REASON_HIGH_MEDICAL_EXPENSE),
    ]
    warnings = warnings_from_lines(lines)
    calls = stack.source_calls()
    async with stack.alerts("admin", system=OPS) as admin, stack.alerts() as worker_client:
        # A bad row refuses the whole file, naming it; nothing is written.
        bad = warnings_from_lines(
            [*lines, warning_line(("37032219800101123", "测试辛"), "YB-3", region_code="3703")]
        )
        before = await stack.table_rows("alerts")
        assert await refused(admin.import_warnings(bad)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            ["warnings[2].id_number", "warnings[2].region_code"],
        )
        assert await refused(worker_client.import_warnings(warnings)) == (
            grpc.StatusCode.PERMISSION_DENIED,
            ["ROLE_NOT_ALLOWED"],
        )
        assert await stack.table_rows("alerts") == before

        result = await admin.import_warnings(warnings)
        assert (result.alerts_raised, result.outreach_entries, result.already_imported) == (1, 1, 0)
        again = await admin.import_warnings(warnings)
        assert (again.alerts_raised, again.outreach_entries, again.already_imported) == (0, 0, 2)
        assert list(again.alert_ids) == list(result.alert_ids)

        covered = await worker_client.get(result.alert_ids[0])
        assert covered.kind == pb.ALERT_KIND_WARNING and covered.reason == "SERIOUS_ILLNESS"
        assert covered.risk_level == pb.RISK_LEVEL_HIGH and covered.household_ref
        assert json.loads(covered.details_json)["authorization_id"] == "SQ-WARN-1"
        ledger = await worker_client.get(result.alert_ids[1])
        assert ledger.kind == pb.ALERT_KIND_OUTREACH and ledger.household_ref == ""
        assert ledger.person.name_masked == "测**"
        assert ledger.person.id_number_masked.endswith(stranger[0][-4:])
        outreach = await worker_client.list_alerts(
            pb.ListAlertsRequest(kind=pb.ALERT_KIND_OUTREACH)
        )
        assert [a.alert_id for a in outreach.alerts] == [result.alert_ids[1]]
    # No department was asked about anyone.
    assert stack.source_calls() == calls
    assert isinstance(stack.app.store, SqlStore)
    scanner = PiiScanner([spouse.id_number, stranger[0]], [spouse.name, stranger[1]])
    assert_clean(await scanner.database(stack.app.store.db))
    assert_clean(await scanner.audit(stack.app.store.db))
    assert REAUTHORIZATION_NEEDED  # the third source of alerts is the roster's (its tests)


def cli(stack: Stack, role: str, system: str, *argv: str) -> int:
    """`hedui alerts …` against the running server (plaintext loopback)."""
    from verifier.cli.main import main

    user = {"admin": "admin-1", "reviewer": "reviewer-1"}.get(role, "worker-1")
    client = ["--server", stack.target(), "--insecure-plaintext", "--system", system]
    return main(["--log-level", "ERROR", "alerts", *argv, *client, "--user", user, "--role", role])


async def test_the_command_line_imports_lists_and_resolves(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = (synthetic_id(seq=71, born=date(1971, 7, 7)), "测试壬")
    good = warning_line(stranger, "RS-2026-1", department=pb.WARNING_DEPARTMENT_HUMAN_RESOURCES)
    bad = warning_line(stranger, "RS-2026-2", region_code="341824")
    path = tmp_path / "warnings.jsonl"
    path.write_text(f"{good}\n\n{bad}\n", encoding="utf-8")
    # A line outside the admin's regions refuses the file: nothing is imported.
    assert await asyncio.to_thread(cli, stack, "admin", OPS, "import-warnings", str(path)) == 1
    assert "nothing was imported" in capsys.readouterr().err
    assert await stack.table_rows("alerts") == 0
    path.write_text(f"{good}\n\n{{not json\n", encoding="utf-8")
    assert await asyncio.to_thread(cli, stack, "admin", OPS, "import-warnings", str(path)) == 2
    assert "line 3" in capsys.readouterr().err
    path.write_text(f"{good}\n", encoding="utf-8")
    assert await asyncio.to_thread(cli, stack, "admin", OPS, "import-warnings", str(path)) == 0
    assert "走访台账 1 条" in capsys.readouterr().out
    assert (
        await asyncio.to_thread(cli, stack, "caseworker", SYSTEM, "list", "--kind", "outreach") == 0
    )
    listed = capsys.readouterr().out
    async with stack.alerts() as c:
        (only,) = (await c.list_alerts(pb.ListAlertsRequest())).alerts
    assert only.alert_id in listed
    assert stranger[0] not in listed and stranger[1] not in listed
    rc = await asyncio.to_thread(
        cli, stack, "caseworker", SYSTEM, "resolve", only.alert_id, "--outcome", "referred"
    )
    assert rc == 1 and "program" in capsys.readouterr().err
    rc = await asyncio.to_thread(
        cli,
        stack,
        "caseworker",
        SYSTEM,
        "resolve",
        only.alert_id,
        "--outcome",
        "referred",
        "--program",
        "employment_assistance",
    )
    assert rc == 0
    async with stack.alerts() as c:
        done = await c.get(only.alert_id)
    assert done.state == pb.ALERT_STATE_RESOLVED
    assert done.referred_program == pb.REFERRAL_PROGRAM_EMPLOYMENT_ASSISTANCE
