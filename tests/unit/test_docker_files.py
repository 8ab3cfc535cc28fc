"""The Dockerfile copies what the package needs and runs as its own user (the compose
file, its secrets and the health check: tests/integration/test_docker_files.py)."""

from __future__ import annotations

from pathlib import Path

DOCKER = Path(__file__).parents[2] / "docker"


def test_the_dockerfile_copies_what_the_package_needs() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    for part in ("proto", "gen", "verifier", "adapters", "audit", "docker/healthcheck.py"):
        assert f"COPY {part}" in text
    assert "USER hedui" in text  # never root
