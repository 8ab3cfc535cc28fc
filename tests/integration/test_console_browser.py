"""The web console in a real headless browser (chromium), on SQLite and PostgreSQL:
a caseworker finds a check, watches it finish and prints its report; an auditor searches
the log by ID number, opens an entry and sees its proof verified by the browser itself;
a tampered proof or entry turns the page red; each role is kept out of the other's pages."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.async_api import Browser, Page, Route, expect

from audit.canonical import canonical_bytes
from audit.checkpoint import Checkpoint, sign_checkpoint, verifier_key
from tests.app_sql import audit_bodies
from tests.console_helpers import (
    GatedRig,
    base_url,
    chromium,
    console_rig,
    screenshot,
)
from tests.helpers import APPLICANT_ID, CALLER, household_draft, soon
from tests.log_capture import server_log_lines
from tests.pii import PiiScanner, assert_clean
from verifier.storage.uow import SqlStore


async def _signed_in(page: Page, link: str) -> None:
    await page.goto(link)
    await expect(page.locator(".who")).to_be_visible()


async def test_caseworker_finds_a_check_watches_it_finish_and_prints(
    database_url: str, keys_dir: Path
) -> None:
    async with console_rig(database_url, keys_dir) as rig, chromium() as browser:
        view = await rig.app.service.create(CALLER, household_draft(case_id="CASE-77"), wait=False)
        vid = view.record.id
        await rig.bank.until_asked(1)
        console = await rig.console("caseworker", "worker-1")
        page = await browser.new_page()
        await _signed_in(page, console.link_url)
        await page.fill("#q", "CASE-77")
        await page.click("#find")
        await expect(page).to_have_url(f"{base_url(console)}/checks/{vid}")
        # Tax answered for all three members; the bank is still being asked.
        await expect(page.locator('[data-cell="0:tax"]')).to_have_text("已查到")
        await expect(page.locator("#answered")).to_have_text("3")
        await expect(page.locator("#state")).to_have_text("进行中")
        await screenshot(page, "console-check-running")

        rig.bank.open()
        await expect(page.locator("#state")).to_have_text("已完成", timeout=20_000)
        await expect(page.locator('[data-cell="0:bank"]')).to_have_text("无记录")
        await expect(page.locator("#answered")).to_have_text("6")
        await expect(page.locator('[data-cell="0:tax"]')).to_have_text("已查到")

        # The report page is the printable 核对报告 itself, its signature checked; printing
        # prints it (the toolbar hidden), and its PDF is one click away.
        await page.click("#report-v1")
        await expect(page.locator("#signature")).to_contain_text("签名已验证")
        await expect(page.locator("body")).to_contain_text("家庭经济状况核对报告")
        assert APPLICANT_ID not in await page.content()  # masked, as on the printout
        await screenshot(page, "console-report")
        await page.evaluate("window.print = () => { window.__printed = true; }")
        await page.click("#print")
        assert await page.evaluate("window.__printed") is True
        async with page.expect_download() as download:
            await page.click("#pdf")
        saved = await (await download.value).path()
        pdf = await asyncio.to_thread(Path(saved).read_bytes)
        assert pdf.startswith(b"%PDF")
        # The page view was an audited read of the report, by the signed-in user.
        reads = await audit_bodies(rig.app, "report_read")
        assert any(b["actor"]["user"] == "worker-1" and b["outcome"] == "allow" for b in reads)


async def _finished_check(rig: GatedRig) -> str:
    rig.bank.open()
    view = await rig.app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    return view.record.id


async def _pin(page: Page, key: str) -> None:
    await page.fill("#pinned-key", key)
    await page.click("#pin")


async def test_auditor_searches_by_id_number_and_the_browser_verifies_the_entry(
    database_url: str, keys_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with console_rig(database_url, keys_dir) as rig, chromium() as browser:
        await _finished_check(rig)
        with server_log_lines(capsys) as read_logs:
            await _audit_walk(rig, browser)
            logs = read_logs()
        assert any(line.get("event") == "console sign-in" for line in logs)
        # The ID number went in a POST form: not in a log line, nor in the audit log.
        household = household_draft()
        scanner = PiiScanner(
            [m.id_number for m in household.members], [m.name for m in household.members]
        )
        assert_clean(scanner.value(logs, "log"))
        assert isinstance(rig.app.store, SqlStore)
        assert_clean(await scanner.audit(rig.app.store.db))


async def _audit_walk(rig: GatedRig, browser: Browser) -> None:
    """Search by ID number, open an entry, pin the audit key: verified; then another key."""
    console = await rig.console("auditor", "auditor-1")
    page = await browser.new_page()
    await _signed_in(page, console.link_url)
    await expect(page).to_have_url(f"{base_url(console)}/audit")
    await page.fill("#id_number", APPLICANT_ID)
    await page.click("#search")
    rows = page.locator("#entries tbody tr")
    await expect(rows.first).to_be_visible()
    assert APPLICANT_ID not in page.url
    assert APPLICANT_ID not in await page.content()  # not refilled into the form either
    await screenshot(page, "console-audit-search")
    # Every entry found names the applicant by keyed ref; the search is audited.
    searches = await audit_bodies(rig.app, "audit_read")
    assert any(b["details"].get("filters") == ["subject"] for b in searches)
    assert APPLICANT_ID not in json.dumps(searches)

    await rows.first.locator("a").click()
    verdict = page.locator("#verdict")
    await expect(verdict).to_have_attribute("data-result", "warn")  # nothing pinned yet
    await _pin(page, rig.audit_key)
    await expect(verdict).to_have_attribute("data-result", "good")
    await expect(page.locator("#verdict-steps li.ok")).to_have_count(4)
    await screenshot(page, "console-audit-entry-verified")

    # The checkpoint history: every signature checked by the browser with the pinned key.
    await page.click("text=检查点")
    await expect(page.locator("#verdict")).to_have_attribute("data-result", "good")
    assert await page.locator("td.cp-verdict.fail").count() == 0
    await expect(page.locator("td.cp-verdict.ok").first).to_be_visible()
    await screenshot(page, "console-audit-checkpoints")
    # A checkpoint's note altered on the way (its tree size): the browser says so.
    await page.route("**/audit/checkpoints", _altered_note)
    await page.reload()
    await expect(page.locator("#verdict")).to_have_attribute("data-result", "bad")
    await expect(page.locator("td.cp-verdict.fail")).to_have_count(1)
    await page.unroute("**/audit/checkpoints")
    await page.go_back()

    # A key the auditor did not pin (another log's) is not trusted.
    other = verifier_key(rig.audit_key.split("+")[0], Ed25519PrivateKey.generate().public_key())
    await _pin(page, other)
    await expect(verdict).to_have_attribute("data-result", "bad")


async def _altered_note(route: Route) -> None:
    response = await route.fetch()
    html = await response.text()
    start = html.index('<pre class="note-text">') + len('<pre class="note-text">')
    origin_end = html.index("\n", start)
    size_end = html.index("\n", origin_end + 1)
    size = int(html[origin_end + 1 : size_end])
    html = html[: origin_end + 1] + str(size + 1) + html[size_end:]
    await route.fulfill(response=response, body=html)


def _tamper(field: str) -> Callable[[Route], Awaitable[None]]:
    async def handle(route: Route) -> None:
        response = await route.fetch()
        doc = json.loads(await response.text())
        if field == "proof":
            first = bytearray(base64.b64decode(doc["proof"][0]))
            first[0] ^= 1
            doc["proof"][0] = base64.b64encode(bytes(first)).decode()
        else:
            body = json.loads(base64.b64decode(doc["body"]))
            body["outcome"] = "deny" if body["outcome"] == "allow" else "allow"
            doc["body"] = base64.b64encode(canonical_bytes(body)).decode()
        await route.fulfill(response=response, body=json.dumps(doc))

    return handle


@pytest.mark.parametrize("field", ["proof", "body"])
async def test_a_tampered_proof_or_entry_turns_the_page_red(
    database_url: str, keys_dir: Path, field: str
) -> None:
    async with console_rig(database_url, keys_dir) as rig, chromium() as browser:
        await _finished_check(rig)
        console = await rig.console("auditor", "auditor-1")
        page = await browser.new_page()
        await _signed_in(page, console.link_url)
        await page.goto(f"{base_url(console)}/audit/entries/1")
        await _pin(page, rig.audit_key)
        await expect(page.locator("#verdict")).to_have_attribute("data-result", "good")
        # The same page again, its proof altered on the way: the browser alone must notice.
        await page.route("**/audit/entries/1/proof", _tamper(field))
        await page.reload()
        await expect(page.locator("#verdict")).to_have_attribute("data-result", "bad")
        await expect(page.locator("#verdict-steps li.fail")).to_have_count(1)
        if field == "proof":
            await screenshot(page, "console-audit-entry-tampered")


async def test_each_role_is_kept_out_of_the_others_pages(database_url: str, keys_dir: Path) -> None:
    async with console_rig(database_url, keys_dir) as rig, chromium() as browser:
        vid = await _finished_check(rig)
        worker = await rig.console("caseworker", "worker-1")
        auditor = await rig.console("auditor", "auditor-1")
        page = await browser.new_page()
        await _signed_in(page, worker.link_url)
        for path in ("/audit", "/audit/entries/0", "/audit/checkpoints", "/audit/export"):
            response = await page.goto(f"{base_url(worker)}{path}")
            assert response is not None and response.status == 403, path
        denied = [b for b in await audit_bodies(rig.app, "audit_read") if b["outcome"] == "deny"]
        assert {b["actor"]["user"] for b in denied} == {"worker-1"}

        other = await browser.new_page()
        await _signed_in(other, auditor.link_url)
        for path in (f"/checks/{vid}/reports/1", f"/checks/{vid}", "/checks"):
            response = await other.goto(f"{base_url(auditor)}{path}")
            assert response is not None and response.status in (403, 404), path
            assert "签名已验证" not in await other.content()
        refused = [b for b in await audit_bodies(rig.app, "report_read") if b["outcome"] == "deny"]
        assert [b["actor"]["user"] for b in refused] == ["auditor-1"]


def _forked_row(note: bytes) -> Callable[[Route], Awaitable[None]]:
    """The history with one more signed checkpoint at the top, as a split view serves it."""

    async def handle(route: Route) -> None:
        response = await route.fetch()
        page = await response.text()
        row = (
            f'<tr><td>fork</td><td></td><td></td><td><pre class="note-text">'
            f'{html.escape(note.decode("utf-8"))}</pre></td><td class="cp-verdict">…</td></tr>'
        )
        await route.fulfill(response=response, body=page.replace("<tbody>", "<tbody>" + row, 1))

    return handle


async def _bent_consistency(route: Route) -> None:
    response = await route.fetch()
    doc = json.loads(await response.text())
    first = bytearray(base64.b64decode(doc["proof"][0]))
    first[0] ^= 1
    doc["proof"][0] = base64.b64encode(bytes(first)).decode()
    await route.fulfill(response=response, body=json.dumps(doc))


async def test_a_split_view_or_a_bent_consistency_proof_turns_the_checkpoints_red(
    database_url: str, keys_dir: Path
) -> None:
    async with console_rig(database_url, keys_dir) as rig, chromium() as browser:
        await _finished_check(rig)
        assert rig.app.auditing is not None
        checkpointer = rig.app.auditing.checkpointer
        await checkpointer.checkpoint()
        console = await rig.console("auditor", "auditor-1")
        page = await browser.new_page()
        await _signed_in(page, console.link_url)
        await page.goto(f"{base_url(console)}/audit/entries/1")
        await _pin(page, rig.audit_key)
        newest = await checkpointer.checkpoint()  # the log grew by the auditor's reads
        await page.goto(f"{base_url(console)}/audit/checkpoints")
        verdict = page.locator("#verdict")
        await expect(verdict).to_have_attribute("data-result", "good")
        rows = await page.locator("#checkpoints tbody tr").count()
        assert rows >= 2
        await expect(page.locator("td.cp-verdict.ok")).to_have_count(rows)
        # Checked in the browser: one proof asked for per neighbouring pair.
        proved = await audit_bodies(rig.app, "audit_read")
        assert sum(b["details"].get("kind") == "prove_consistency" for b in proved) == rows - 1

        # A second tree of the newest size, validly signed, with another root: red.
        origin = rig.audit_key.split("+")[0]  # the key name is the log's origin
        fork = Checkpoint(origin, newest.size, hashlib.sha256(b"another tree").digest())
        note = sign_checkpoint(fork, origin, rig.app.keys.audit_key())
        await page.route("**/audit/checkpoints", _forked_row(note))
        await page.reload()
        await expect(verdict).to_have_attribute("data-result", "bad")
        # The real one fails as a split view; the older ones cannot be proved into the fork.
        split = page.locator("td.cp-verdict.fail", has_text="split view")
        await expect(split).to_have_count(1)
        await page.unroute("**/audit/checkpoints")

        # A consistency proof altered on the way: red too.
        await page.route("**/audit/consistency/**", _bent_consistency)
        await page.reload()
        await expect(verdict).to_have_attribute("data-result", "bad")
        await expect(page.locator("td.cp-verdict.fail").first).to_be_visible()
