"""Staff work an alert over gRPC and from the command line, on SQLite and PostgreSQL; every
refusal (bad filter, wrong role or region, bad resolution) is INVALID_ARGUMENT or
PERMISSION_DENIED naming the field or reason, and writes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
from google.type import date_pb2
from hedui.v1 import alerts_pb2 as pb

from tests import alerts_flow_helpers
from tests.alerts_flow_helpers import (
    OPS,
    Stack,
    alerts_of,
    changes_of,
    households,
    life_events,
    refused,
    warning_line,
)
from tests.fakes import synthetic_id
from tests.helpers import SYSTEM

# The shared fixture, bound here so that pytest finds it for this module's tests.
stack = alerts_flow_helpers.stack


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
