"""`hedui demo federation` as a user runs it: exit 0, and what it says it established
checked again here — the member whose 户籍 is at the peer answered by the peer, the
peer's fragment embedded, the report (fragment included) verified offline with both key
sets, both audit logs verified, and nothing printed that names a person in full."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.cli.demo_federation import HOME, PEER
from verifier.cli.offline import verify_file

pytestmark = pytest.mark.slow


def test_the_federation_demo_checks_a_split_household_across_two_deployments(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDUI_")}
    proc = subprocess.run(
        [sys.executable, "-m", "verifier.cli.main", "demo", "federation"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "✗" not in out
    for line in (
        f"{HOME[0]}: trusted {PEER[0]}",
        f"{PEER[0]}: trusted {HOME[0]}",
        "FRAGMENT VERIFIED",
        f"the embedded fragment of {PEER[0]} verifies against its JWKS",
        "federation demo: every step checked out",
    ):
        assert line in out, line

    (run,) = (tmp_path / "var" / "demo" / "federation").glob("run-*")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["ok"] is True
    assert summary["report_verified"] and summary["fragments_verified"]
    assert summary["audit_logs"] == {HOME[0]: True, PEER[0]: True}
    # Exactly the member whose 户籍 is the peer's county was answered there.
    at_peer = {i for i, m in enumerate(summary["members"]) if m["hukou_region"] == PEER[1]}
    assert len(at_peer) == 1 and len(summary["members"]) >= 3
    assert {int(i) for i, w in summary["answered_by"].items() if PEER[0] in w} == at_peer
    assert all(w == [HOME[0]] for i, w in summary["answered_by"].items() if int(i) not in at_peer)
    assert [f["peer"] for f in summary["fragments"]] == [PEER[0]]
    assert summary["peer_audit"][-1] == "released:released"

    # The report left behind verifies here too, and embeds the fragment the source
    # entries of the peer's member name.
    report = verify_file(run / "report.dsse.json", run / "keys.jwks.json")
    (fragment,) = report.document["fragments"]
    named = {
        s["fragment_sha256"] for s in report.document["sources"] if s.get("deployment") == PEER[0]
    }
    assert named == {fragment["envelope_sha256"]}

    # Nobody's ID number is shown in full: not on the console, not in the summary.
    shown = out + (run / "summary.json").read_text()
    household = json.loads((run / "household.json").read_text())
    for m in household["household"]["members"]:
        assert m["id_number"] not in shown and m["name"] not in shown
