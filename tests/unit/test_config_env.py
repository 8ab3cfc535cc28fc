"""``HEDUI_*`` environment overrides over the file (``HEDUI_SECTION__KEY``, the older
``HEDUI_DATABASE_URL``, ``HEDUI_KEYS_DIR``, ``HEDUI_LISTEN`` too), and secrets from
files: a bad override names its variable, a missing secret file names the key, and no
message repeats a secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hedui_sdk import SourceKind
from verifier.config import ConfigError, default_config, load_config

FILE = """
[server]
listen = "127.0.0.1:50051"

[database]
url = "sqlite:///from-file.db"

[sources.tax]
base_url = "http://tax.example/tax"
timeout = 5
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("HEDUI_"):
            monkeypatch.delenv(name)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "hedui.toml"
    path.write_text(FILE)
    return path


def refused(path: Path | None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_an_environment_override_beats_the_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEDUI_SOURCES__TAX__TIMEOUT", "3.5")
    monkeypatch.setenv("HEDUI_DATABASE__URL", "sqlite:///from-env.db")
    monkeypatch.setenv("HEDUI_SERVER__LISTEN", "0.0.0.0:50052")
    monkeypatch.setenv("HEDUI_ROSTER__SCHEDULER", "false")
    monkeypatch.setenv("HEDUI_POLICY__ALLOW_EXAMPLE_PARAMETERS", '["370322"]')
    cfg = load_config(config_file)
    assert cfg.sources[SourceKind.TAX].policy.timeout == 3.5
    assert cfg.sources[SourceKind.TAX].base_url == "http://tax.example/tax"  # the rest stays
    assert cfg.database_url == "sqlite:///from-env.db"
    assert cfg.listen == "0.0.0.0:50052"
    assert cfg.roster.scheduler is False
    assert cfg.allow_example_parameters == ("370322",)


def test_the_older_variable_names_still_work_and_the_new_ones_win(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HEDUI_DATABASE_URL", "sqlite:///legacy.db")
    monkeypatch.setenv("HEDUI_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("HEDUI_LISTEN", "0.0.0.0:50051")
    cfg = load_config(config_file)
    assert cfg.database_url == "sqlite:///legacy.db"
    assert cfg.keys_dir == tmp_path / "keys"
    assert cfg.listen == "0.0.0.0:50051"
    monkeypatch.setenv("HEDUI_DATABASE__URL", "sqlite:///nested.db")
    assert load_config(config_file).database_url == "sqlite:///nested.db"


def test_overrides_apply_to_the_embedded_default_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDUI_TLS__INSECURE_PLAINTEXT", "true")
    monkeypatch.setenv("HEDUI_LISTEN", "127.0.0.1:0")
    cfg = load_config(None)
    assert cfg.tls.mode == "development" and cfg.tls.insecure_plaintext  # still the local PKI
    assert cfg.listen == "127.0.0.1:0" and len(cfg.sources) == len(SourceKind)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HEDUI_SOURCES__TAX__TIMEOUT", "soon", "HEDUI_SOURCES__TAX__TIMEOUT: must be float"),
        ("HEDUI_SOURCES__TAX__TIMEOUT", "0", "HEDUI_SOURCES__TAX__TIMEOUT: must be above 0"),
        ("HEDUI_SOURCES__TAX__TIMOUT", "3", "HEDUI_SOURCES__TAX__TIMOUT: unknown key; known: "),
        ("HEDUI_SERVR__LISTEN", "0.0.0.0:1", "HEDUI_SERVR__LISTEN: unknown key; known: "),
        ("HEDUI_SOURCES__TAXX__TIMEOUT", "3", "HEDUI_SOURCES__TAXX__TIMEOUT: unknown source; one of "),
        ("HEDUI_BATCHES__RUNNER", "maybe", "HEDUI_BATCHES__RUNNER: must be bool"),
        ("HEDUI_DATABASE_URL", "sqlite:///x.db?mode=ro", "HEDUI_DATABASE_URL: sqlite URLs take no options"),
    ],
)  # fmt: skip
def test_a_bad_override_names_its_variable(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    assert refused(config_file).startswith(message)


def test_unrelated_hedui_variables_are_not_configuration(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HEDUI_LOG_LEVEL", "HEDUI_APP_ROLE", "HEDUI_TAX_TOKEN", "HEDUI_PKI"):
        monkeypatch.setenv(name, "x")
    assert load_config(config_file).listen == "127.0.0.1:50051"


def test_the_file_named_by_hedui_config_is_read(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEDUI_CONFIG", str(config_file))
    assert load_config(None).database_url == "sqlite:///from-file.db"


# ---- secrets from files ----------------------------------------------------------------


def test_the_database_url_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "db-url"
    secret.write_text("postgresql://hedui:s3cret-pw@db/hedui\n")
    path = tmp_path / "hedui.toml"
    path.write_text(f'[database]\nurl = "file:{secret}"\n')
    cfg = load_config(path)
    assert cfg.database_url == "postgresql://hedui:s3cret-pw@db/hedui"
    assert "s3cret" not in repr(cfg)


def test_the_database_url_can_come_from_another_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_URL", "postgresql://hedui:s3cret-pw@db/hedui")
    monkeypatch.setenv("HEDUI_DATABASE__URL", "env:DB_URL")
    assert load_config(None).database_url == "postgresql://hedui:s3cret-pw@db/hedui"


def test_a_missing_secret_file_names_the_key_not_a_content(tmp_path: Path) -> None:
    path = tmp_path / "hedui.toml"
    path.write_text(f'[database]\nurl = "file:{tmp_path}/absent"\n')
    assert refused(path) == f"database.url: cannot read {tmp_path}/absent"


def test_a_bad_url_in_a_secret_file_is_refused_without_repeating_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "db-url"
    secret.write_text("mysql://hedui:s3cret-pw@db/hedui\n")
    path = tmp_path / "hedui.toml"
    path.write_text(f'[database]\nurl = "file:{secret}"\n')
    assert refused(path) == "database.url: use sqlite or postgresql, not mysql"
    monkeypatch.setenv("HEDUI_DATABASE__URL", f"file:{secret}")
    message = refused(None)
    assert message == "HEDUI_DATABASE__URL: use sqlite or postgresql, not mysql"
    assert "s3cret" not in message


def test_a_secret_in_a_bad_override_is_never_repeated(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEDUI_SOURCES__TAX__CREDENTIALS", '{"token": "s3cret-t0ken"}')
    message = refused(config_file)
    assert message.startswith("HEDUI_SOURCES__TAX__CREDENTIALS: token: must start with env:")
    assert "s3cret" not in message
    monkeypatch.setenv("HEDUI_SOURCES__TAX__CREDENTIALS", '{"token": s3cret-t0ken')
    assert "s3cret" not in refused(config_file)


def test_without_a_file_or_overrides_the_embedded_default_is_loaded() -> None:
    assert load_config(None) == default_config()


def test_a_sandbox_source_knob_can_be_overridden_without_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEDUI_SOURCES__BANK__RETRIES", "0")
    cfg = load_config(None)
    assert cfg.sources[SourceKind.BANK].policy.retries == 0
    assert cfg.sources[SourceKind.BANK].policy.reuse_days == 30  # the rest as embedded
    assert len(cfg.sources) == len(SourceKind)
