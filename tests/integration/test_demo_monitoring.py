"""`hedui demo monitoring` as a user runs it: exit 0, and what it says it established
checked again here — the change codes, the alert raised and resolved, each webhook
received and processed once, the report and change document verified offline, the audit
log verified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.cli.offline import verify_file
from verifier.signing.changes import verify_changes
from verifier.signing.jwks import parse_jwks
from verifier.signing.sm2 import available as sm2_available

pytestmark = pytest.mark.slow

INCOME_CROSSINGS = {
    "INCOME_ABOVE_DIBAO_STANDARD",
    "INCOME_ABOVE_TAPER_CEILING",
    "INCOME_ABOVE_BIANYUAN_LINE",
}


def test_the_monitoring_demo_walks_a_roster_through_a_cycle(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDUI_")}
    proc = subprocess.run(
        [sys.executable, "-m", "verifier.cli.main", "demo", "monitoring"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for line in (
        "roster imported",
        "households re-checked once each",
        "sandbox events applied: demo-pay-rise, demo-new-car",
        "every household re-checked again, once each, at staff's request",
        "report.issued and alert.raised received, signatures verified",
        "resolved: confirmed",
        "audit log verifies",
        "monitoring demo: every step checked out",
    ):
        assert line in out, line
    assert "✗" not in out + proc.stderr

    (run,) = (tmp_path / "var" / "demo" / "monitoring").glob("run-*")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["ok"] is True
    changed = summary["changed_household"]
    codes = summary["codes"]
    # The household whose sandbox data changed: the car and an income line crossed; the
    # others: nothing.
    assert "VEHICLE_ADDED" in codes[changed] and INCOME_CROSSINGS & set(codes[changed])
    assert all(c == [] for ref, c in codes.items() if ref != changed)
    assert set(summary["alerts"]) == set(codes[changed])
    # Re-checked twice, by two distinct checks per household.
    for ref in summary["households"]:
        assert summary["first_rechecks"][ref] != summary["second_rechecks"][ref]
    # Each webhook verified and processed once (a retry would be counted, not processed).
    hooks = {h["type"]: h for h in summary["webhooks"]}
    assert set(hooks) == {"report.issued", "alert.raised"}
    assert all(h["deliveries"] >= 1 for h in hooks.values())
    assert summary["webhooks_refused"] == 0
    resolved = summary["resolved"]
    assert resolved["reason"] in INCOME_CROSSINGS
    assert resolved["resolution"] == "RESOLUTION_CONFIRMED"
    assert resolved["history"] == ["raised", "acknowledged", "resolved"]
    assert summary["audit_log"]["ok"] and summary["audit_log"]["entries"] > 0

    # What it left behind verifies here too, offline, against the server's JWKS.
    keys = run / "keys.jwks.json"
    report = verify_file(run / "report.dsse.json", keys)
    assert report.document["verification_id"] == summary["second_rechecks"][changed]
    changes = verify_changes(
        (run / "changes.dsse.json").read_bytes(), parse_jwks(keys.read_bytes())
    )
    assert sorted(c["code"] for c in changes.document["changes"]) == sorted(codes[changed])
    # The demo's defaults sign with both keys where OpenSSL has SM2: each signature checked.
    both = 2 if sm2_available() else 1
    assert len(report.key_ids) == len(changes.key_ids) == both
