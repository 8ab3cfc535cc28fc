"""The printable 核对报告 of a demo-like check, as a real PDF: CJK fonts embedded, Chinese
text extractable, the QR code decoding (with zbar, independently of hedui) to the signed
report's key id and envelope hash; ``hedui report verify --printout``; and the audited
path to full names and ID numbers, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from hedui_sdk import mask_id_number
from tests.app_sql import audit_bodies
from tests.conftest import IN_CI
from tests.helpers import (
    APPLICANT_ID,
    CALLER,
    CHILD_ID,
    SPOUSE_ID,
    make_app,
    run_cli,
)
from tests.print_helpers import demo_adapters, demo_check, printed_demo_report
from verifier.cli.main import main
from verifier.domain.errors import NotFound, PermissionDenied
from verifier.domain.ports import Caller
from verifier.render import PrintView, parse_payload, render_html
from verifier.storage.migrate import upgrade


def tool(name: str) -> str:
    """A poppler or zbar command (installed by .ci/system-packages.sh)."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required under CI=true (.ci/system-packages.sh)")
        pytest.skip(f"{name} is not installed")
    return path


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


@dataclass(frozen=True)
class Printed:
    envelope: Path
    jwks: Path
    pdf: Path
    key_id: str


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Printed:
    """The demo check's report, rendered by ``hedui report render`` once for this module."""
    import asyncio

    d = tmp_path_factory.mktemp("printed")
    url = f"sqlite:///{d}/hedui.db"
    upgrade(url)
    envelope, jwks, _ = asyncio.run(printed_demo_report(url, d / "keys"))
    (d / "report.dsse.json").write_bytes(envelope)
    (d / "jwks.json").write_text(jwks)
    pdf = d / "report.pdf"
    argv = ["report", "render", str(d / "report.dsse.json"), "--keys", str(d / "jwks.json")]
    assert main(["--log-level", "ERROR", *argv, "--format", "pdf", "--out", str(pdf)]) == 0
    key_id = json.loads(envelope)["signatures"][0]["keyid"]
    return Printed(d / "report.dsse.json", d / "jwks.json", pdf, key_id)


def test_the_pdf_embeds_its_cjk_fonts(printed: Printed) -> None:
    lines = run(tool("pdffonts"), str(printed.pdf)).splitlines()[2:]
    assert lines, "no fonts in the PDF"
    fonts = [(line.split()[0], line.split()[-5]) for line in lines]
    assert all(emb == "yes" for _, emb in fonts), fonts
    assert any("CJK" in name for name, _ in fonts), fonts


def test_the_pdf_text_is_chinese_extractable_and_masked(printed: Printed) -> None:
    text = run(tool("pdftotext"), "-layout", str(printed.pdf), "-")
    pages = int(re.search(r"Pages:\s+(\d+)", run(tool("pdfinfo"), str(printed.pdf)))[1])  # type: ignore[index]
    for words in ("家庭经济状况核对报告", "核对编号", "授权书编号", "待返回", "查询失败", "无记录"):
        assert words in text, words
    for n in range(1, pages + 1):
        # pdftotext drops the spaces between Chinese and digits: the words, not the gaps.
        assert re.search(rf"第\s*{n}\s*页\s*共\s*{pages}\s*页", text), n
    assert mask_id_number(APPLICANT_ID) in text
    for raw in (APPLICANT_ID, SPOUSE_ID, CHILD_ID, "测试甲"):
        assert raw not in text


def test_the_qr_code_decodes_to_the_key_id_and_envelope_hash(
    printed: Printed, tmp_path: Path
) -> None:
    tool("pdftoppm")
    run("pdftoppm", "-r", "150", "-png", str(printed.pdf), str(tmp_path / "page"))
    decoded = []
    for png in sorted(tmp_path.glob("page*.png")):
        zbar = subprocess.run(
            [tool("zbarimg"), "--raw", "-q", str(png)], capture_output=True, text=True
        )
        decoded += zbar.stdout.split()
    assert len(decoded) == 1, decoded
    payload = parse_payload(decoded[0])
    assert payload.key_id == printed.key_id
    assert payload.envelope_sha256 == hashlib.sha256(printed.envelope.read_bytes()).hexdigest()
    assert (
        payload.report_id
        == json.loads(base64.b64decode(json.loads(printed.envelope.read_bytes())["payload"]))[
            "report_id"
        ]
    )


def test_verify_printout_from_the_pdf_or_the_qr_text(
    printed: Printed, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = ["report", "verify", str(printed.envelope), "--keys", str(printed.jwks)]
    code, out, _ = run_cli(capsys, *base, "--printout", str(printed.pdf))
    assert code == 0 and "PRINTOUT MATCHES" in out
    sha = hashlib.sha256(printed.envelope.read_bytes()).hexdigest()
    text = f"hedui-report:1;id=x;v=1;kid={printed.key_id};sha256={sha}"
    code, _, err = run_cli(capsys, *base, "--printout", text)
    assert code == 1 and "report id differs" in err
    # The same signed payload in another envelope file: the signature verifies, the
    # printout names other bytes.
    other = tmp_path / "other.dsse.json"
    other.write_text(json.dumps(json.loads(printed.envelope.read_bytes()), indent=2))
    code, out, err = run_cli(
        capsys,
        "report", "verify", str(other), "--keys", str(printed.jwks),
        "--printout", str(printed.pdf),
    )  # fmt: skip
    assert code == 1 and "VERIFIED" in out and "envelope SHA-256 differs" in err
    code, _, err = run_cli(capsys, *base, "--printout", str(printed.jwks))
    assert code == 1 and "PRINTOUT NOT CHECKED" in err


def test_verify_printout_from_a_scanned_page(
    printed: Printed, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A scan: the last page (the verification block) at 120 dpi, grey, as a lossy JPEG.
    tool("pdftoppm")
    run("pdftoppm", "-r", "120", "-gray", "-png", str(printed.pdf), str(tmp_path / "scan"))
    last = sorted(tmp_path.glob("scan*.png"))[-1]
    jpeg = tmp_path / "scan.jpg"
    with Image.open(last) as page:
        page.save(jpeg, quality=60)
    code, out, _ = run_cli(
        capsys,
        "report", "verify", str(printed.envelope), "--keys", str(printed.jwks),
        "--printout", str(jpeg),
    )  # fmt: skip
    assert code == 0 and "PRINTOUT MATCHES" in out


def test_render_refuses_a_report_whose_signature_does_not_verify(
    printed: Printed, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = json.loads(printed.envelope.read_bytes())
    env["signatures"][0]["sig"] = env["signatures"][0]["sig"][::-1]
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(env))
    out = tmp_path / "forged.html"
    code, _, err = run_cli(
        capsys,
        "report", "render", str(forged), "--keys", str(printed.jwks),
        "--format", "html", "--out", str(out),
    )  # fmt: skip
    assert code == 1 and "NOT VERIFIED" in err and not out.exists()


async def test_full_identities_for_the_caseworker_only_and_audited(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, demo_adapters())
    try:
        vid = await demo_check(app)
        disclosed = await app.service.get_report_with_identities(CALLER, vid, 0)
        assert [i.id_number for i in disclosed.identities.values()] == [
            APPLICANT_ID,
            SPOUSE_ID,
            CHILD_ID,
        ]
        doc = json.loads(base64.b64decode(json.loads(disclosed.report.envelope)["payload"]))
        html = render_html(
            doc,
            PrintView.of(
                disclosed.report.envelope, disclosed.report.signing_key_id, disclosed.identities
            ),
        )
        assert APPLICANT_ID in html and "测试甲" in html

        reviewer = Caller(CALLER.system, "reviewer-1", "reviewer", CALLER.regions)
        with pytest.raises(PermissionDenied) as refused:
            await app.service.get_report_with_identities(reviewer, vid, 0)
        assert refused.value.reason == "ROLE_NOT_ALLOWED"
        stranger = Caller("case-system-b", "worker-9", "caseworker", ("3703",))
        with pytest.raises(NotFound):
            await app.service.get_report_with_identities(stranger, vid, 0)

        log = await audit_bodies(app, "report_read")
        full = [e for e in log if (e.get("details") or {}).get("identities") == "full"]
        assert [(e["outcome"], e["reason"], e["actor"]["role"]) for e in full] == [
            ("allow", "", "caseworker"),
            ("deny", "ROLE_NOT_ALLOWED", "reviewer"),
            ("deny", "NOT_OWNER", "caseworker"),
        ]
        assert len(full[0]["subject_refs"]) == 3
        assert not any(n in json.dumps(log) for n in (APPLICANT_ID, SPOUSE_ID, CHILD_ID))
    finally:
        await app.aclose()
