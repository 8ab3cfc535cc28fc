"""The database URL is checked when the config is read, without echoing it back."""

from __future__ import annotations

import pytest

from verifier.config import ConfigError, load_config, parse_config


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite:///var/hedui.db?timeout=30", "sqlite URLs take no options"),
        ("mysql://hedui:s3cret-pw@db/hedui", "use sqlite or postgresql, not mysql"),
        ("not a url at all", "not a database URL"),
    ],
)
def test_a_url_hedui_cannot_open_is_refused_by_name(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"database": {"url": url}})
    assert str(caught.value) == f"database.url: {problem}"
    assert "s3cret" not in str(caught.value)


def test_the_environment_override_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEDUI_CONFIG", raising=False)
    monkeypatch.setenv("HEDUI_DATABASE_URL", "sqlite:///x.db?mode=ro")
    with pytest.raises(ConfigError, match=r"^HEDUI_DATABASE_URL: sqlite URLs take no options$"):
        load_config(None)


@pytest.mark.parametrize("url", ["sqlite:///var/hedui.db", "postgresql://hedui@db:5432/hedui"])
def test_usable_urls_pass(url: str) -> None:
    assert parse_config({"database": {"url": url}}).database_url == url
