"""The Node.js client example (examples/node) against a real server over mTLS.

A case-system developer in another language writes this from the proto and its comments;
the test runs it as they would (``node check.mjs``), against the sandbox departments and
a real ``hedui`` server, and checks what it saw: the 授权书 registered (twice, the second
time idempotently), the report versions watched, the DSSE signature verified by Node's own
crypto against the JWKS, and a refused request's field named from google.rpc.BadRequest.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from hedui_sdk.sandbox.server import start_sandbox
from verifier.api.sandbox_files import export_sandbox
from verifier.api.tls import server_credentials_for
from verifier.bootstrap import build_app, serve_app
from verifier.cli.certs import init_pki
from verifier.cli.runtime import DEMO_SYSTEM
from verifier.config import TlsConfig, default_config, sandbox_sources

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node"
IN_CI = os.environ.get("CI", "").lower() == "true"

pytestmark = pytest.mark.slow


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (EXAMPLE / "node_modules" / "@grpc" / "grpc-js").is_dir():
        if IN_CI:
            pytest.fail("node and examples/node/node_modules are required under CI=true")
        pytest.skip("node or examples/node/node_modules missing (make test installs them)")
    return node


async def test_node_client_registers_checks_watches_and_verifies(
    tmp_path: Path, database_url: str
) -> None:
    node = _node()
    pki = init_pki(tmp_path / "pki", systems=[DEMO_SYSTEM]).layout
    me = pki.client(DEMO_SYSTEM)
    sandbox = await start_sandbox(port=0)
    try:
        cfg = replace(
            default_config(),
            database_url=database_url,
            keys_dir=tmp_path / "keys",
            sources=sandbox_sources(sandbox.port),
            listen="127.0.0.1:0",
            tls=TlsConfig.local_pki(pki.directory),
        )
        app = await build_app(cfg)
        server = await serve_app(
            app, cfg.listen, credentials=server_credentials_for(cfg.tls, cfg.listen)
        )
        try:
            # The files `hedui sandbox export` writes: canonical JSON, read by Node as is.
            [(household, consent)] = export_sandbox(
                sandbox.population, "370322", 1, tmp_path / "files", date.today()
            )
            doc = json.loads(household.read_text(encoding="utf-8"))
            proc = await asyncio.create_subprocess_exec(
                node,
                str(EXAMPLE / "check.mjs"),
                str(household),
                str(consent),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={
                    "PATH": os.environ.get("PATH", ""),
                    "HEDUI_ADDRESS": f"localhost:{server.port}",
                    "HEDUI_CA": str(pki.ca.cert),
                    "HEDUI_CERT": str(me.cert),
                    "HEDUI_KEY": str(me.key),
                    "HEDUI_USER": "node-caseworker",
                    "HEDUI_ROLE": "caseworker",
                },
            )
            out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        finally:
            await server.stop()
            await app.aclose()
    finally:
        await sandbox.stop()
    assert proc.returncode == 0, err.decode()
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert summary["consent"] == summary["consentAgain"] == doc["authorizationId"]
    assert summary["payloadType"] == "application/vnd.hedui.report+json; version=1"
    assert summary["reportSchema"] == "hedui.report/v1"
    assert summary["verifiedBy"], "Node's crypto verified no signature"
    # The sandbox bank answers late: the watcher saw at least the second version.
    assert max(summary["reportVersions"]) >= 2
    assert summary["reportVersion"] == max(summary["reportVersions"])
    assert summary["badRequest"]["code"] == "INVALID_ARGUMENT"
    assert "household.region_code" in summary["badRequest"]["fields"]
    # v0.2's names and types, read from the proto alone: google.type.Date, event_time,
    # create_time.
    assert summary["consentValidFrom"] == date.today().replace(day=1).isoformat()
    assert summary["eventsTimed"] is True
    created = datetime.fromisoformat(summary["created"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - created) < timedelta(hours=1)
