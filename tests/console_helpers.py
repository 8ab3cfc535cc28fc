"""The web console in tests: a real app on a real database, the console serving it on a
free loopback port, and Playwright driving the system's chromium (no browser download)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from hedui_sdk import SourceKind
from tests.batches_api_helpers import Gated
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, SYSTEM, make_app
from verifier.bootstrap import App
from verifier.cli.console_cmds import RunningConsole, start_console
from verifier.web.settings import ConsoleSettings, OidcSettings, SignInLink

CHROMIUM = Path(os.environ.get("HEDUI_CHROMIUM", "/usr/bin/chromium"))
HAVE_CHROMIUM = CHROMIUM.exists()
SCREENSHOTS = os.environ.get("HEDUI_CONSOLE_SCREENSHOTS", "")
"""A directory to save the main pages' screenshots in (docs/images is made this way)."""


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless chromium from the system's packages; under CI=true its absence fails."""
    if not HAVE_CHROMIUM:
        message = f"{CHROMIUM} is missing (the chromium package, .ci/system-packages.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as pw:
        # Root in a container has no user namespaces for chromium's sandbox.
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@dataclass
class Rig:
    """An app and consoles serving it (stopped with it)."""

    app: App
    consoles: list[RunningConsole] = field(default_factory=list)

    @property
    def audit_key(self) -> str:
        """The audit verifier key, as an auditor gets it out of band to pin in the browser."""
        assert self.app.auditing is not None
        return self.app.auditing.verifier_key

    async def console(
        self, role: str, user: str = "", *, oidc: OidcSettings | None = None
    ) -> RunningConsole:
        """A console whose one-time link signs ``user`` in as ``role`` (or OIDC sign-in)."""
        settings = ConsoleSettings(
            system=SYSTEM,
            public_url="",
            session_seconds=600,
            link=None if oidc else SignInLink(user or f"{role}-1", role),
            oidc=oidc,
        )
        running = await start_console(self.app, settings, "127.0.0.1:0")
        self.consoles.append(running)
        return running

    async def close(self) -> None:
        for c in self.consoles:
            await c.stop()
        await self.app.aclose()


@dataclass
class GatedRig(Rig):
    """Tax answers at once; the bank only when let through (``bank.open()``)."""

    bank: Gated = field(default_factory=lambda: Gated(SourceKind.BANK))


@asynccontextmanager
async def console_rig(database_url: str, keys_dir: Path) -> AsyncIterator[GatedRig]:
    tax = FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 350_000})
    bank = Gated(SourceKind.BANK)
    app = await make_app(database_url, keys_dir, {SourceKind.TAX: tax, SourceKind.BANK: bank})
    rig = GatedRig(app, bank=bank)
    try:
        yield rig
    finally:
        bank.open()
        await rig.close()


def base_url(console: RunningConsole) -> str:
    return f"http://127.0.0.1:{console.port}"
