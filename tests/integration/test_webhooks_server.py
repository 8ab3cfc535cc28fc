"""Webhooks as a deployment runs them: the server's own worker (started by bootstrap
beside the poller) tells a subscriber of each report released through the gRPC API, on
both databases; ``hedui webhooks list|test|replay|enable|attempts`` work on the configured
database, are audited, and print neither secret nor URL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hedui.v1 import common_pb2
from hedui.v1 import verification_pb2 as pb
from sqlalchemy import text as sql

from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, SYSTEM, make_app
from tests.log_capture import server_log_lines
from tests.webhook_receiver import Receiver
from verifier.api.client import Client
from verifier.bootstrap import serve_app
from verifier.cli.main import main
from verifier.config import SubscriberConfig, WebhooksConfig
from verifier.storage.engine import open_database

SECRET = "whsec_" + base64.b64encode(bytes(range(40, 72))).decode()
ENV = "HEDUI_TEST_WEBHOOK_SECRET"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver(SECRET).start()
    yield r
    await r.stop()


def webhooks_config(url: str) -> WebhooksConfig:
    return WebhooksConfig(
        subscribers={
            "county-case": SubscriberConfig(
                "county-case", url, ("report.issued", "alert.raised"), (f"env:{ENV}",)
            )
        },
        interval_seconds=0.05,
    )


async def test_a_released_report_reaches_the_subscriber(
    database_url: str,
    keys_dir: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(ENV, SECRET)
    adapters = {SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 98_000})}
    with server_log_lines(capsys) as read_logs:
        app = await make_app(
            database_url, keys_dir, adapters, webhooks=webhooks_config(receiver.url)
        )
        server = await serve_app(app, "127.0.0.1:0", health_interval=0.05)
        try:
            async with Client(
                f"127.0.0.1:{server.port}", user="worker-1", role="caseworker", system=SYSTEM
            ) as c:
                v = await c.create(
                    pb.CreateVerificationRequest(
                        request_id="r-1",
                        case_id="CASE-9",
                        authorization_id="SQ-1",
                        purposes=[common_pb2.PURPOSE_DIBAO],
                        household=pb.Household(
                            region_code="370322",
                            members=[
                                pb.Member(
                                    id_type=common_pb2.ID_TYPE_RESIDENT_ID,
                                    id_number=APPLICANT_ID,
                                    name="测试",
                                    relation=common_pb2.RELATION_APPLICANT,
                                )
                            ],
                        ),
                        wait=True,
                        hukou_nature=common_pb2.HUKOU_NATURE_URBAN,
                    )
                )
                report = await c.report(v.verification_id)
            await asyncio.wait_for(receiver.arrived.wait(), 30)
        finally:
            await server.stop(0)
            await app.aclose()
        logs = read_logs()
    ((event_id, doc),) = receiver.processed.items()
    assert event_id.startswith("msg_") and receiver.refused == 0
    assert doc["type"] == "report.issued"
    assert doc["data"] == {
        "verification_id": v.verification_id,
        "case_id": "CASE-9",
        "version": 1,
        "envelope_sha256": hashlib.sha256(report.envelope).hexdigest(),
    }
    text = json.dumps(logs, ensure_ascii=False)
    assert SECRET.removeprefix("whsec_") not in text and receiver.url not in text
    assert APPLICANT_ID not in text
    (attempt,) = [entry for entry in logs if entry["event"] == "webhook_attempt"]
    assert attempt["event_id"] == event_id and attempt["status"] == 200


async def hedui(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str]:
    """The command in a thread of its own (it runs its own event loop), while this
    test's loop serves the receiver."""
    code = await asyncio.to_thread(main, ["--config", str(config), "webhooks", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


async def test_the_webhooks_commands(
    database_url: str,
    tmp_path: Path,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV, SECRET)
    monkeypatch.setenv("COLUMNS", "200")
    config = tmp_path / "hedui.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"

[keys]
dir = "{tmp_path / "keys"}"

[tls]
mode = "development"

[webhooks.subscribers.county-case]
url = "{receiver.url}"
events = ["report.issued"]
secrets = ["env:{ENV}"]
"""
    )
    code, out = await hedui(capsys, config, "list")
    assert code == 0 and "county-case" in out and "report.issued" in out

    code, out = await hedui(capsys, config, "test", "county-case")
    assert code == 0, out
    assert "200" in out
    ((event_id, doc),) = receiver.processed.items()
    assert doc == {
        "type": "webhook.test",
        "timestamp": doc["timestamp"],
        "data": {"subscriber": "county-case"},
    }
    assert event_id in out

    code, out = await hedui(capsys, config, "test", "nobody")
    assert code == 1 and "no subscriber of that name" in out
    code, out = await hedui(capsys, config, "replay", "--since", "yesterday")
    assert code == 1 and "since" in out
    code, out = await hedui(capsys, config, "replay", "--since", "2h")
    assert code == 0 and "0 deliveries queued" in out
    code, out = await hedui(capsys, config, "enable", "county-case")
    assert code == 0 and "was not disabled" in out
    code, out = await hedui(capsys, config, "attempts", "--limit", "5000")
    assert code == 1 and "limit" in out
    # A malformed secret stops the command, naming the key and not the value.
    monkeypatch.setenv(ENV, "whsec_tooshort")
    code, out = await hedui(capsys, config, "list")
    assert code == 2 and "secrets[0]" in out and "tooshort" not in out

    assert SECRET not in out and receiver.url not in out

    db = open_database(database_url)
    try:
        async with db.read_sessions() as s:
            rows = (
                (await s.execute(sql("SELECT body FROM audit_entries ORDER BY seq")))
                .scalars()
                .all()
            )
    finally:
        await db.dispose()
    bodies = [json.loads(r) for r in rows]
    ops = [b["details"]["operation"] for b in bodies if b["action"] == "webhook_admin"]
    assert ops == ["test", "replay", "enable"]
    assert all(b["actor"]["system"] == "hedui-cli" for b in bodies)
