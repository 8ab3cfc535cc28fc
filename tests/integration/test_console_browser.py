"""The web console in a real headless browser (chromium), on SQLite and PostgreSQL:
a caseworker finds a check, watches it finish and prints its report; an auditor searches
the log by ID number, opens an entry and sees its proof verified by the browser itself;
a tampered proof or entry turns the page red; each role is kept out of the other's pages."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from tests.console_helpers import audit_bodies, base_url, chromium, console_rig, screenshot
from tests.helpers import APPLICANT_ID, CALLER, household_draft


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
        await expect(page.locator('[data-cell="0:tax"]')).to_have_text("有记录")
        await expect(page.locator("#answered")).to_have_text("3")
        await expect(page.locator("#state")).to_have_text("进行中")
        await screenshot(page, "console-check-running")

        rig.bank.open()
        await expect(page.locator("#state")).to_have_text("已完成", timeout=20_000)
        await expect(page.locator('[data-cell="0:bank"]')).to_have_text("无记录")
        await expect(page.locator("#answered")).to_have_text("6")
        await expect(page.locator('[data-cell="0:tax"]')).to_have_text("有记录")

        await page.click("#report-v1")
        await expect(page.locator("#signature")).to_contain_text("签名已验证")
        assert APPLICANT_ID not in await page.content()  # masked, as on the printout
        await screenshot(page, "console-report")
        await page.evaluate(
            "window.__printed = false; window.print = () => { window.__printed = true; }"
        )
        await page.click("#print")
        assert await page.evaluate("window.__printed") is True
        pdf = await page.pdf(format="A4")
        assert pdf.startswith(b"%PDF")

        # The page view was an audited read of the report, by the signed-in user.
        reads = await audit_bodies(rig.app, "report_read")
        assert any(b["actor"]["user"] == "worker-1" and b["outcome"] == "allow" for b in reads)
