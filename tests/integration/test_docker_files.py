"""docker/: no committed secret, every secret a file mounted on its own, every sandbox
source configured, the compose file valid, and the health check working over mTLS with
its own certificate against a server started from docker/hedui.toml."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_crash import free_port
from verifier.config import load_config, sandbox_sources

DOCKER = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = shutil.which("docker-compose")


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return doc


def tracked_docker_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "docker"], cwd=DOCKER.parent, capture_output=True, text=True
    )
    if out.returncode != 0:  # not a git checkout (an unpacked archive): the files on disk
        return [p for p in DOCKER.rglob("*") if p.is_file()]
    return [DOCKER.parent / line for line in out.stdout.split()]


def test_no_secret_is_committed() -> None:
    files = tracked_docker_files()
    assert files
    for path in files:
        assert "secrets" not in path.relative_to(DOCKER).parts, path
        text = path.read_text(errors="replace")
        # A URL with a password in it; a placeholder (%s, $VAR) is not one.
        assert not re.search(r"postgres(ql)?(\+\w+)?://[^/\s:@]+:[^@\s%$]+@", text), path
        assert not re.search(r"PASSWORD\s*[:=]\s*\S", text), path
    for made in ("docker/secrets/db_password.txt", "docker/.env"):
        ignored = subprocess.run(["git", "check-ignore", "-q", made], cwd=DOCKER.parent)
        assert ignored.returncode == 0, f"{made} is not ignored by git"


def test_every_secret_is_a_file_under_docker_secrets() -> None:
    doc = compose()
    assert {s["file"].split("/")[1] for s in doc["secrets"].values()} == {"secrets"}
    assert doc["services"]["db"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith(
        "/run/secrets/"
    )
    cfg = (DOCKER / "hedui.toml").read_text()
    assert 'url = "file:/run/secrets/database_url"' in cfg


def test_server_and_health_keys_are_mounted_apart_and_no_callers_key() -> None:
    hedui = compose()["services"]["hedui"]
    assert set(hedui["secrets"]) == {
        "database_url",
        "tls_ca",
        "server_cert",
        "server_key",
        "healthcheck_cert",
        "healthcheck_key",
    }
    assert not any("pki" in v for v in hedui["volumes"])  # nothing mounted as a directory
    health = (DOCKER / "healthcheck.py").read_text()
    for name in ("tls_ca", "healthcheck_cert", "healthcheck_key"):
        assert f'"{name}"' in health


def test_the_compose_config_names_every_sandbox_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tmp_path / "database_url"
    url.write_text("postgresql://hedui:x@db/hedui")
    monkeypatch.setenv("HEDUI_DATABASE__URL", f"file:{url}")
    cfg = load_config(DOCKER / "hedui.toml")
    assert set(cfg.sources) == set(sandbox_sources())
    for kind, sc in cfg.sources.items():
        assert sc.base_url == f"http://sandbox:8600/{kind.value}"
    assert str(cfg.tls.key) == "/run/secrets/server_key"
    assert cfg.tls.mode == "production"


def ci_needs(tool: str | None, what: str) -> str:
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is missing (.ci/system-packages.sh installs it)")
        pytest.skip(f"{what} is not installed")
    return tool


def test_docker_compose_config_passes_and_asks_for_the_secrets_first() -> None:
    tool = ci_needs(COMPOSE, "docker-compose")
    env = {k: v for k, v in os.environ.items() if k != "HEDUI_UID"}
    args = [tool, "-f", str(DOCKER / "compose.yaml"), "--project-directory", str(DOCKER)]
    ok = subprocess.run([*args, "config", "-q"], env={**env, "HEDUI_UID": "4242"})
    assert ok.returncode == 0
    refused = subprocess.run([*args, "config", "-q"], env=env, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "make-secrets.sh" in refused.stderr


@pytest.fixture
def made_secrets(tmp_path: Path) -> Path:
    """A copy of docker/ with docker/make-secrets.sh run in it (hedui from this venv)."""
    copy = tmp_path / "docker"
    shutil.copytree(DOCKER, copy, ignore=shutil.ignore_patterns("secrets", ".env"))
    make_secrets(copy)
    return copy / "secrets"


def make_secrets(docker_dir: Path) -> None:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    subprocess.run(
        [str(docker_dir / "make-secrets.sh")], check=True, env={**os.environ, "PATH": path}
    )


def test_make_secrets_writes_private_files_once(made_secrets: Path) -> None:
    password = (made_secrets / "db_password.txt").read_text()
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", password)
    url = (made_secrets / "database_url.txt").read_text()
    assert url == f"postgresql://hedui:{password}@db/hedui"
    for f in ("db_password.txt", "database_url.txt", "pki/server.key"):
        assert stat.S_IMODE((made_secrets / f).stat().st_mode) & 0o077 == 0, f
    assert f"HEDUI_UID={os.getuid()}" in (made_secrets.parent / ".env").read_text()
    make_secrets(made_secrets.parent)
    assert (made_secrets / "db_password.txt").read_text() == password  # kept


@pytest.mark.timeout(120)
async def test_the_health_check_passes_over_mtls_against_the_docker_config(
    made_secrets: Path, tmp_path: Path
) -> None:
    """`hedui serve` from docker/hedui.toml (the database, keys and paths moved to this
    test's directory through the environment), then docker/healthcheck.py with only the
    health check's own files."""
    pki = made_secrets / "pki"
    port = free_port()
    env = {
        **os.environ,
        "HEDUI_DATABASE__URL": f"sqlite:///{tmp_path}/hedui.db",
        "HEDUI_KEYS__DIR": str(tmp_path / "keys"),
        "HEDUI_SERVER__LISTEN": f"127.0.0.1:{port}",
        "HEDUI_TLS__CERT": str(pki / "server.pem"),
        "HEDUI_TLS__KEY": str(pki / "server.key"),
        "HEDUI_TLS__CLIENT_CA": str(pki / "ca.pem"),
    }
    health_dir = tmp_path / "health"  # as compose mounts them: one file per secret
    health_dir.mkdir()
    for name, source in (
        ("tls_ca", pki / "ca.pem"),
        ("healthcheck_cert", pki / "clients" / "healthcheck.pem"),
        ("healthcheck_key", pki / "clients" / "healthcheck.key"),
    ):
        shutil.copy(source, health_dir / name)
    cmd = [sys.executable, "-m", "verifier.cli.main", "--config", str(DOCKER / "hedui.toml")]
    server = await asyncio.create_subprocess_exec(
        *cmd, "serve", env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert server.stdout is not None
        banner = await asyncio.wait_for(server.stdout.readline(), 90)
        assert b"over mTLS" in banner, banner
        check_env = {
            **os.environ,
            "HEDUI_HEALTH_DIR": str(health_dir),
            "HEDUI_HEALTH_TARGET": f"localhost:{port}",
        }
        check = await asyncio.create_subprocess_exec(
            sys.executable, str(DOCKER / "healthcheck.py"), env=check_env
        )
        assert await asyncio.wait_for(check.wait(), 30) == 0
        # The same check with a certificate the server's CA never signed fails.
        (health_dir / "healthcheck_cert").write_bytes((pki / "ca.pem").read_bytes())
        bad = await asyncio.create_subprocess_exec(
            sys.executable,
            str(DOCKER / "healthcheck.py"),
            env=check_env,
            stderr=subprocess.DEVNULL,
        )
        assert await asyncio.wait_for(bad.wait(), 30) != 0
    finally:
        server.terminate()
        await server.wait()
        if server.stdout is not None:  # to the end: the pipe's transport closes now
            await server.stdout.read()
