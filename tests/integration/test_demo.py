"""`hedui demo` as a new user runs it, and its report checked by OpenSSL from the JWKS."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_signing import independent_verify

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_the_demo_exits_zero_and_an_independent_verifier_accepts_its_report(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDUI_")}
    proc = subprocess.run(
        [sys.executable, "-m", "verifier.cli.main", "demo"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "var" / "demo"
    envelope = (out / "report.dsse.json").read_bytes()
    jwks = (out / "keys.jwks.json").read_text()
    assert independent_verify(envelope, jwks, tmp_path)
    assert "receipt verifies" in proc.stdout and "audit log verifies" in proc.stdout
    # The five evidence departments were asked about every member, and what they found is
    # in the signed report with its provenance and in the readable summary.
    doc = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    evidence = {"medical_insurance", "disability", "education", "employment", "civil_affairs"}
    asked = {(s["member_index"], s["source"]) for s in doc["sources"]}
    assert {(m["index"], e) for m in doc["members"] for e in evidence} <= asked
    found = [r for r in doc["records"] if r["provenance"]["source"] in evidence]
    assert found and all(r["provenance"]["record_id"] for r in found)
    assert "部门核实的成员情况" in proc.stdout
    # The readable summary names the five programs' outcomes.
    for label in (
        "最低生活保障",
        "特困人员救助供养",
        "临时救助",
        "低保边缘家庭",
        "因病致贫重病患者",
    ):
        assert label in proc.stdout
