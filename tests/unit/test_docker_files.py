"""The files under docker/ are checked as far as no Docker engine is needed."""

from __future__ import annotations

import tomllib
from pathlib import Path

from verifier.config import parse_config

DOCKER = Path(__file__).parents[2] / "docker"


def test_the_compose_config_is_a_valid_production_config() -> None:
    text = (DOCKER / "hedui.toml").read_text()
    # The URL is a secret by reference: compose mounts docker/database_url.txt there.
    assert 'url = "file:/run/secrets/database_url"' in text
    text = text.replace("/run/secrets/database_url", str(DOCKER / "database_url.txt"))
    cfg = parse_config(tomllib.loads(text))
    assert cfg.tls.mode == "production"
    assert cfg.database_url.startswith("postgresql://")
    assert cfg.sources and cfg.principals


def test_the_compose_secrets_agree_and_stay_out_of_the_config() -> None:
    password = (DOCKER / "db_password.txt").read_text().strip()
    url = (DOCKER / "database_url.txt").read_text().strip()
    assert url.startswith("postgresql://hedui:") and f":{password}@db/" in url
    assert password not in (DOCKER / "hedui.toml").read_text()
    assert password not in (DOCKER / "compose.yaml").read_text()


def test_the_dockerfile_copies_what_the_package_needs() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    for part in ("proto", "gen", "verifier", "adapters", "audit", "docker/healthcheck.py"):
        assert f"COPY {part}" in text
    assert "USER hedui" in text  # never root
