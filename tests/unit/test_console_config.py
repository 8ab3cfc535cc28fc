"""``[console]`` in the configuration file: typed, bounded, unknown keys refused, the
OpenID client secret a reference; ``hedui console``'s options override it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_console_pieces import _args
from verifier.cli.console_cmds import settings_from
from verifier.config import ConfigError
from verifier.config.loading import parse_config
from verifier.config.model import ConsoleConfig, ConsoleOidcConfig

PRINCIPALS = {"case-system-a": {"roles": ["auditor"], "regions": ["3703"]}}


def _config(console: dict[str, Any]) -> Any:
    return parse_config({"principals": PRINCIPALS, "console": console})


def test_the_console_table_is_read() -> None:
    cfg = _config(
        {
            "listen": "127.0.0.1:9000",
            "public_url": "https://hedui.example",
            "session_minutes": 60,
            "link_minutes": 5,
            "oidc": {
                "issuer": "https://id.example/realms/mca",
                "client_id": "hedui-console",
                "client_secret": "env:HEDUI_CONSOLE_SECRET",
                "role_claim": "hedui_role",
            },
        }
    )
    assert cfg.console == ConsoleConfig(
        listen="127.0.0.1:9000",
        public_url="https://hedui.example",
        session_minutes=60,
        link_minutes=5,
        oidc=ConsoleOidcConfig(
            issuer="https://id.example/realms/mca",
            client_id="hedui-console",
            client_secret="env:HEDUI_CONSOLE_SECRET",
        ),
    )
    assert parse_config({}).console == ConsoleConfig()


@pytest.mark.parametrize(
    ("console", "where"),
    [
        ({"listen": "8700"}, "console.listen"),
        ({"public_url": "ftp://x"}, "console.public_url"),
        ({"session_minutes": 0}, "console.session_minutes"),
        ({"link_minutes": 0}, "console.link_minutes"),
        ({"link_minutes": 24 * 60 + 1}, "console.link_minutes"),
        ({"system": "370322197003090016"}, "console.system"),
        ({"colour": "red"}, "console.colour"),
        ({"oidc": {"issuer": "https://id.example"}}, "console.oidc.client_id"),
        (
            {"oidc": {"issuer": "https://id.example", "client_id": "c", "client_secret": "x"}},
            "console.oidc.client_secret",
        ),
        (
            {"oidc": {"issuer": "https://id.example", "client_id": "c", "role_claim": "a b"}},
            "console.oidc.role_claim",
        ),
    ],
)
def test_a_bad_console_table_is_refused_naming_the_key(console: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        _config(console)


def test_options_override_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDUI_CONSOLE_SECRET", "s3cret")
    cfg = _config(
        {
            "public_url": "https://hedui.example",
            "session_minutes": 60,
            "oidc": {
                "issuer": "https://id.example",
                "client_id": "hedui-console",
                "client_secret": "env:HEDUI_CONSOLE_SECRET",
            },
        }
    )
    from_file = settings_from(cfg, _args())
    assert from_file.public_url == "https://hedui.example"
    assert from_file.session_seconds == 3600
    assert from_file.oidc is not None
    assert from_file.oidc.client_secret == "s3cret"
    assert from_file.link is None
    given = settings_from(cfg, _args("--session-minutes", "15", "--oidc-client-id", "other"))
    assert given.session_seconds == 900
    assert given.oidc is not None
    assert given.oidc.client_id == "other"
    assert given.oidc.issuer == "https://id.example"
