"""Signing in to the console with OpenID Connect, against a local provider started here
(oidc-provider-mock: authorization code flow, signed ID tokens, a JWKS): the role and the
regions come from the ID token's configured claims, held to the console's principal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.async_api import expect

from tests.app_sql import audit_bodies
from tests.console_helpers import base_url, chromium, console_rig
from verifier.web.settings import OidcSettings

AUDITOR = User(
    sub="auditor-7",
    claims={"preferred_username": "auditor-7", "hedui_role": "auditor", "hedui_regions": ["3703"]},
)
OUTSIDER = User(
    sub="admin-3",
    claims={"preferred_username": "admin-3", "hedui_role": "admin", "hedui_regions": ["3703"]},
)


@pytest.fixture
def issuer() -> Iterator[str]:
    with run_server_in_thread(require_nonce=True, user_claims=[AUDITOR, OUTSIDER]) as server:
        yield f"http://localhost:{server.server_port}"


async def test_an_auditor_signs_in_with_openid_connect(
    database_url: str, keys_dir: Path, issuer: str
) -> None:
    oidc = OidcSettings(issuer=issuer, client_id="hedui-console", client_secret="s3cret")
    async with console_rig(database_url, keys_dir) as rig, chromium() as browser:
        console = await rig.console("auditor", oidc=oidc)
        assert console.link_url == ""  # no one-time link beside OpenID Connect
        page = await browser.new_page()
        await page.goto(base_url(console))
        await page.click("#oidc-signin")
        await page.get_by_role("button", name="auditor-7").click()
        await expect(page).to_have_url(f"{base_url(console)}/audit")
        await expect(page.locator(".who")).to_have_text("auditor-7 · auditor · 3703")
        await page.click("#search")
        await expect(page.locator("p.note").first).to_contain_text("已记入审计日志")
        reads = await audit_bodies(rig.app, "audit_read")
        assert reads[-1]["actor"]["user"] == "auditor-7"
        assert reads[-1]["outcome"] == "allow"

        # A role the console's principal does not have is refused at sign-in.
        other = await browser.new_page()
        await other.goto(base_url(console))
        await other.click("#oidc-signin")
        await other.get_by_role("button", name="admin-3").click()
        await expect(other.locator("#error")).to_contain_text("names no role")
        await other.goto(f"{base_url(console)}/audit")
        await expect(other).to_have_url(f"{base_url(console)}/")


async def test_a_callback_that_is_not_this_browsers_sign_in_is_refused(
    database_url: str, keys_dir: Path, issuer: str
) -> None:
    oidc = OidcSettings(issuer=issuer, client_id="hedui-console", client_secret="s3cret")
    async with console_rig(database_url, keys_dir) as rig, chromium() as browser:
        console = await rig.console("auditor", oidc=oidc)
        page = await browser.new_page()
        response = await page.goto(f"{base_url(console)}/signin/oidc/callback?code=x&state=y")
        assert response is not None and response.status == 401
        await page.goto(f"{base_url(console)}/audit")
        await expect(page).to_have_url(f"{base_url(console)}/")
