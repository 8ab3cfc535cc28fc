"""Which deployment answered what (异地协查), as the report's views show it: the printout
(also the console's report page), ``hedui report show`` — and only for a peer's answers."""

from __future__ import annotations

from rich.console import Console

from tests.unit.report_fragment_helpers import PEER, PEER_KID, federated, local_report
from verifier.cli.report_view import render
from verifier.domain.report import answered_by
from verifier.render import PrintView, render_html
from verifier.render.sections import records, status_grid
from verifier.signing.jcs import canonical_bytes

KID = "ab" * 32


def _shown(doc: dict[str, object]) -> str:
    console = Console(record=True, width=200)
    render(doc, KID, console)
    return console.export_text()


def test_answered_by_names_a_peer_only() -> None:
    assert answered_by(PEER) == f"由 {PEER} 协查"
    assert answered_by("") == "" and answered_by(None) == ""


def test_the_printout_grid_and_records_name_the_peer_for_its_answers() -> None:
    doc, _ = federated()
    notes = {src: [c.note for c in cells] for src, cells in status_grid(doc)}
    assert all(PEER not in n for cells in notes.values() for n in cells[:1])
    assert all(f"由 {PEER} 协查" in cells[1] for cells in notes.values())
    assert notes["纳税"][1] == f"1 条；由 {PEER} 协查"
    departments = {r["reference"]: r["department"] for r in records(doc)}
    assert departments["T-9"].endswith(f"（由 {PEER} 协查）")
    assert "协查" not in departments["TAX-0"]


def test_the_printout_carries_the_fragments_provenance_and_how_to_verify_it() -> None:
    doc, fragment = federated()
    html = render_html(doc, PrintView.of(canonical_bytes(doc), KID))
    assert f"由 {PEER} 协查：签名密钥 {PEER_KID}" in html
    assert fragment.envelope_sha256 in html
    assert "对方审计序号 42" in html
    assert f"--peer-jwks {PEER}={PEER}.jwks" in html


def test_a_local_printout_says_nothing_of_peers() -> None:
    html = render_html(local_report(), PrintView.of(b"{}", KID))
    assert "协查" not in html and "--peer-jwks" not in html


def test_report_show_names_the_peer_in_the_grid() -> None:
    doc, _ = federated()
    assert _shown(doc).count(f"由 {PEER} 协查") == 2
    assert "协查" not in _shown(local_report())
