"""OpenID Connect only over https: the issuer (configured or given as an option) and
the endpoints its metadata names; plain http only to a loopback host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.unit.test_console_config import _config
from tests.unit.test_console_pieces import _args
from verifier.cli.console_cmds import check_settings, settings_from
from verifier.config import Config, ConfigError, Principal
from verifier.config.console_section import oidc_url_problem
from verifier.domain.errors import Unauthenticated
from verifier.web.oidc import OidcClient
from verifier.web.settings import ConsoleSettings, OidcSettings


@pytest.mark.parametrize(
    "url",
    [
        "https://id.example.gov.cn/realms/mca",
        "https://10.0.0.7:8443",
        "http://127.0.0.1:8080",
        "http://127.0.0.2/x",
        "http://[::1]:9000/realms/mca",
        "http://localhost:1",
    ],
)
def test_https_or_loopback_urls_are_accepted(url: str) -> None:
    assert oidc_url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://id.example.gov.cn/realms/mca",
        "http://10.0.0.7:8080",
        "http://[2001:db8::1]:80",
        "http://localhost.evil.example",
        "http://127.0.0.1.evil.example",
        "http://[",
        "ftp://id.example",
        "HTTPS://id.example",
        "id.example",
        "",
    ],
)
def test_plain_http_off_this_machine_is_refused(url: str) -> None:
    assert oidc_url_problem(url) == "must be an https:// URL (http:// only to a loopback host)"


def test_the_configured_issuer_must_be_https() -> None:
    oidc = {"issuer": "http://id.example", "client_id": "c", "client_secret": "env:SECRET_X"}
    with pytest.raises(ConfigError, match=r"console\.oidc\.issuer.*https://") as caught:
        _config({"oidc": oidc})
    assert "SECRET_X" not in str(caught.value)


def test_the_issuer_option_must_be_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSOLE_OIDC_SECRET", "s3cret")
    cfg = Config(principals={"sys-a": Principal("sys-a", ("auditor",), ("3703",))})
    given = ("--oidc-client-secret", "env:CONSOLE_OIDC_SECRET")
    with pytest.raises(ConfigError, match="--oidc-issuer must be an https:// URL") as caught:
        settings_from(cfg, _args("--oidc-issuer", "http://id.example", *given))
    assert "s3cret" not in str(caught.value)
    assert settings_from(cfg, _args("--oidc-issuer", "https://id.example", *given)).oidc
    # Settings made in code are held to the same rule when the console starts.
    settings = ConsoleSettings("sys-a", "", oidc=OidcSettings("http://id.example", "c"))
    with pytest.raises(ConfigError, match="--oidc-issuer"):
        check_settings(settings, cfg.principals["sys-a"], "127.0.0.1")


@pytest.fixture
async def provider() -> AsyncIterator[tuple[TestServer, dict[str, Any]]]:
    """A provider on loopback whose metadata each test fills in."""
    meta: dict[str, Any] = {}

    async def configuration(request: web.Request) -> web.Response:
        return web.json_response(meta)

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", configuration)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    meta.update(
        issuer=base,
        authorization_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/token",
        jwks_uri=f"{base}/jwks",
    )
    try:
        yield server, meta
    finally:
        await server.close()


@pytest.mark.parametrize("name", ["authorization_endpoint", "token_endpoint", "jwks_uri"])
async def test_metadata_naming_a_plain_http_endpoint_is_refused(
    provider: tuple[TestServer, dict[str, Any]], name: str
) -> None:
    _server, meta = provider
    client = OidcClient(OidcSettings(meta["issuer"], "c"), "http://127.0.0.1:1/cb")
    meta[name] = "http://id.example/endpoint"
    with pytest.raises(Unauthenticated, match=f"{name} must be an https:// URL"):
        await client.metadata()
    del meta[name]
    with pytest.raises(Unauthenticated, match=f"{name} is missing"):
        await client.metadata()


async def test_metadata_with_https_or_loopback_endpoints_is_kept(
    provider: tuple[TestServer, dict[str, Any]],
) -> None:
    _server, meta = provider
    meta["authorization_endpoint"] = "https://login.example/authorize"
    client = OidcClient(OidcSettings(meta["issuer"], "c"), "http://127.0.0.1:1/cb")
    assert (await client.metadata())["authorization_endpoint"] == meta["authorization_endpoint"]
