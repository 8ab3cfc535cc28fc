"""When the server will start: configurations that would not identify callers are refused,
development plaintext is allowed on loopback only, the TLS section is parsed with its
mistakes named, and bad credential files are named without their contents.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import mtls_helpers
from tests.helpers import SYSTEM
from verifier.api.tls import (
    TlsConfigError,
    check_server_tls,
    client_credentials,
    is_loopback,
    server_credentials,
    server_credentials_for,
)
from verifier.cli.certs import PkiLayout
from verifier.cli.main import main
from verifier.config import ConfigError, TlsConfig, load_config

# The shared fixture, bound here so that pytest finds it for this module's tests.
pki = mtls_helpers.pki


# ---- when the server may start ---------------------------------------------------------


def tls_files(pki: PkiLayout, **kw: Any) -> TlsConfig:
    base: dict[str, Any] = dict(
        mode="production", cert=pki.server.cert, key=pki.server.key, client_ca=pki.ca.cert
    )
    base.update(kw)
    return TlsConfig(**base)


REFUSED: dict[str, tuple[Callable[[PkiLayout], TlsConfig], str, str]] = {
    "production without certificates": (
        lambda pki: TlsConfig(mode="production"),
        "0.0.0.0:50051",
        "tls.cert, tls.key, tls.client_ca not set",
    ),
    "production without a client CA": (
        lambda pki: tls_files(pki, client_ca=None),
        "0.0.0.0:50051",
        "tls.client_ca not set",
    ),
    "production without client auth": (
        lambda pki: tls_files(pki, client_ca=None, require_client_auth=False),
        "0.0.0.0:50051",
        "require_client_auth = false is refused in production",
    ),
    "production plaintext, even on loopback": (
        lambda pki: TlsConfig(mode="production", insecure_plaintext=True),
        "127.0.0.1:50051",
        "insecure_plaintext is refused in production",
    ),
    "development plaintext on every interface": (
        lambda pki: TlsConfig(mode="development", insecure_plaintext=True),
        "0.0.0.0:50051",
        "only honoured on loopback",
    ),
    "development plaintext on a LAN address": (
        lambda pki: TlsConfig(mode="development", insecure_plaintext=True),
        "10.0.0.5:50051",
        "only honoured on loopback",
    ),
    "development without anything": (
        lambda pki: TlsConfig(mode="development"),
        "127.0.0.1:50051",
        "hedui certs init",
    ),
}


@pytest.mark.parametrize(("make", "listen", "why"), REFUSED.values(), ids=REFUSED.keys())
def test_configurations_that_would_not_identify_callers_are_refused(
    pki: PkiLayout, make: Callable[[PkiLayout], TlsConfig], listen: str, why: str
) -> None:
    with pytest.raises(TlsConfigError) as ei:
        server_credentials_for(make(pki), listen)
    assert why in str(ei.value)


@pytest.mark.parametrize(
    ("tls", "listen"),
    [
        (TlsConfig(mode="development", insecure_plaintext=True), "127.0.0.1:50051"),
        (TlsConfig(mode="development", insecure_plaintext=True), "[::1]:50051"),
        (TlsConfig(mode="development", insecure_plaintext=True), "localhost:0"),
    ],
)
def test_development_plaintext_on_loopback_is_allowed(tls: TlsConfig, listen: str) -> None:
    check_server_tls(tls, listen)
    assert server_credentials_for(tls, listen) is None


def test_production_with_mtls_is_allowed(pki: PkiLayout) -> None:
    assert server_credentials_for(tls_files(pki), "0.0.0.0:50051") is not None


@pytest.mark.parametrize(
    ("listen", "loopback"),
    [
        ("127.0.0.1:1", True),
        ("127.8.9.10:1", True),
        ("[::1]:1", True),
        ("localhost:1", True),
        ("0.0.0.0:1", False),
        ("[::]:1", False),
        (":1", False),
        ("10.0.0.5:1", False),
        ("hedui.example:1", False),
        ("unix:/tmp/hedui.sock", False),
    ],
)
def test_loopback_detection(listen: str, loopback: bool) -> None:
    assert is_loopback(listen) is loopback


def test_hedui_serve_refuses_to_start_in_production_without_mtls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "hedui.db"
    config = tmp_path / "hedui.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:0"\n[database]\nurl = "sqlite:///{db}"\n'
        f'[keys]\ndir = "{tmp_path / "keys"}"\n'
    )
    assert main(["--config", str(config), "serve"]) == 2
    assert "production requires mTLS" in capsys.readouterr().err
    # Refused before anything was opened or created.
    assert not db.exists()
    assert not (tmp_path / "keys").exists()


def test_tls_section_is_parsed_and_defaults_to_production(tmp_path: Path) -> None:
    config = tmp_path / "hedui.toml"
    config.write_text("[server]\nlisten = '0.0.0.0:50051'\n")
    assert load_config(config).tls == TlsConfig(mode="production")
    config.write_text(
        "[tls]\nmode = 'development'\ncert = 's.pem'\nkey = 's.key'\nclient_ca = 'ca.pem'\n"
        "insecure_plaintext = true\n"
    )
    tls = load_config(config).tls
    assert tls.mode == "development" and tls.insecure_plaintext
    assert (tls.cert, tls.key, tls.client_ca) == (Path("s.pem"), Path("s.key"), Path("ca.pem"))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("mode = 'staging'", "tls.mode"),
        ("client-ca = 'ca.pem'", "tls.client-ca: unknown key"),
        ("insecure_plaintext = 'yes'", "tls.insecure_plaintext: must be bool"),
    ],
)
def test_tls_section_mistakes_are_named(tmp_path: Path, body: str, why: str) -> None:
    config = tmp_path / "hedui.toml"
    config.write_text(f"[tls]\n{body}\n")
    with pytest.raises(ConfigError) as ei:
        load_config(config)
    assert why in str(ei.value)


# ---- credential files ------------------------------------------------------------------


def test_a_missing_file_is_named(pki: PkiLayout, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(TlsConfigError, match=r"server certificate .*nowhere\.pem does not exist"):
        server_credentials(missing, pki.server.key, pki.ca.cert)
    with pytest.raises(TlsConfigError, match=r"client CA .*nowhere\.pem does not exist"):
        server_credentials(pki.server.cert, pki.server.key, missing)
    with pytest.raises(TlsConfigError, match=r"server CA .*nowhere\.pem does not exist"):
        client_credentials(missing, pki.client(SYSTEM).cert, pki.client(SYSTEM).key)


def test_a_key_that_is_not_the_certificates_is_named(pki: PkiLayout) -> None:
    with pytest.raises(TlsConfigError) as ei:
        server_credentials(pki.server.cert, pki.client(SYSTEM).key, pki.ca.cert)
    assert str(pki.client(SYSTEM).key) in str(ei.value)
    assert "does not belong" in str(ei.value)


def test_a_garbled_key_is_named_without_its_contents(pki: PkiLayout, tmp_path: Path) -> None:
    bad = tmp_path / "garbled.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n")
    with pytest.raises(TlsConfigError) as ei:
        client_credentials(pki.ca.cert, pki.client(SYSTEM).cert, bad)
    assert str(bad) in str(ei.value)
    assert "c2VjcmV0" not in str(ei.value)


def test_a_directory_instead_of_a_file_is_named(pki: PkiLayout, tmp_path: Path) -> None:
    with pytest.raises(TlsConfigError, match="cannot be read"):
        server_credentials(pki.server.cert, pki.server.key, tmp_path)
