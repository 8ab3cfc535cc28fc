"""`hedui demo` as a new user runs it, and its report checked by OpenSSL from the JWKS."""

from __future__ import annotations

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
    # The readable summary names the five programs' outcomes.
    for label in (
        "最低生活保障",
        "特困人员救助供养",
        "临时救助",
        "低保边缘家庭",
        "因病致贫重病患者",
    ):
        assert label in proc.stdout
