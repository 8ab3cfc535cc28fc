"""The files under docker/ are checked as far as no Docker engine is needed."""

from __future__ import annotations

import tomllib
from pathlib import Path

from verifier.config import parse_config

DOCKER = Path(__file__).parents[2] / "docker"


def test_the_compose_config_is_a_valid_production_config() -> None:
    cfg = parse_config(tomllib.loads((DOCKER / "hedui.toml").read_text()))
    assert cfg.tls.mode == "production"
    assert cfg.database_url.startswith("postgresql://")
    assert cfg.sources and cfg.principals


def test_the_dockerfile_copies_what_the_package_needs() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    for part in ("proto", "gen", "verifier", "adapters", "audit", "docker/healthcheck.py"):
        assert f"COPY {part}" in text
    assert "USER hedui" in text  # never root
