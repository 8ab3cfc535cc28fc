"""`hedui serve` as an operator runs it: a subprocess that migrates a new database, starts,
answers calls and stops on SIGTERM. Every line it writes, on stdout and stderr, is one
JSON object; each RPC has one access line with method, status, latency and request id;
no line holds an ID number or a name."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from hedui.v1 import keys_pb2

from tests.helpers import APPLICANT_ID, SPOUSE_ID
from tests.observability_helpers import household_request, json_line
from verifier.api.client import Client

STARTUP_SECONDS = 60.0
SYSTEM = "local-case-system"  # the embedded default's principal


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "hedui.toml"
    path.write_text(
        f"""
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite:///{tmp_path / "var" / "hedui.db"}"
[keys]
dir = "{tmp_path / "var" / "keys"}"
[tls]
mode = "development"
insecure_plaintext = true
[metrics]
listen = "127.0.0.1:0"
""",
        encoding="utf-8",
    )
    return path


async def until_serving(stdout: asyncio.StreamReader) -> dict[str, Any]:
    """The banner: the JSON line the server writes on stdout once it serves."""
    async with asyncio.timeout(STARTUP_SECONDS):
        raw = await stdout.readline()
    assert raw, "the server exited before serving"
    line = json_line(raw.decode("utf-8"), "stdout")
    assert line["event"] == "serving"
    return line


async def test_every_line_hedui_serve_writes_is_json(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDUI_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "verifier.cli.main", "--config", str(config_file(tmp_path)),
        "serve",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    try:
        banner = await until_serving(proc.stdout)
        target = f"127.0.0.1:{banner['port']}"
        async with Client(target, user="obs-worker", role="caseworker", system=SYSTEM) as c:
            call = c.keys.ListKeys(
                keys_pb2.ListKeysRequest(),
                metadata=(*c.metadata, ("x-request-id", "obs-req-0001")),
            )
            await call
            trailers = dict(await call.trailing_metadata() or ())
            # No 授权书 registered: refused, and audited.
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await c.create(household_request("obs-1", APPLICANT_ID, SPOUSE_ID))
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await c.create(household_request("obs-2", APPLICANT_ID[:-1] + "Z"))
        assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{banner['metrics_port']}/metrics") as scraped,
        ):
            assert scraped.status == 200
            assert "grpc_server_handled_total" in await scraped.text()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), STARTUP_SECONDS)
    assert proc.returncode == 0

    lines = [banner, *(json_line(line, "stdout") for line in out.decode("utf-8").splitlines())]
    lines += [json_line(line, "stderr") for line in err.decode("utf-8").splitlines()]
    events = [line.get("event") for line in lines]
    # Alembic's migration messages, the start and the banner, as JSON lines.
    assert any(line.get("logger") == "alembic.runtime.migration" for line in lines)
    assert "server_started" in events and "serving" in events
    for line in lines:
        assert {"event", "level", "timestamp"} <= line.keys()

    access = [line for line in lines if line.get("event") == "rpc"]
    assert [(a["method"].rsplit("/", 1)[1], a["code"]) for a in access] == [
        ("ListKeys", "OK"),
        ("CreateVerification", "PERMISSION_DENIED"),
        ("CreateVerification", "INVALID_ARGUMENT"),
    ]
    for a in access:
        assert isinstance(a["latency_ms"], float) and a["latency_ms"] >= 0
        assert isinstance(a["request_id"], str) and a["request_id"]
    # One meaning of request id: the caller's x-request-id, echoed in the trailers.
    assert access[0]["request_id"] == "obs-req-0001" == trailers["x-request-id"]
    assert access[1]["request_id"] != access[2]["request_id"]

    # Decoded: the renderer escapes non-ASCII, so a name would not show in the raw bytes.
    text = (out + err).decode("utf-8") + json.dumps(lines, ensure_ascii=False)
    for secret in (APPLICANT_ID, SPOUSE_ID, "测试"):
        assert secret not in text
