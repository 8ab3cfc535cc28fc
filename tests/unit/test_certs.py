"""`hedui certs init`: what the local PKI contains, how its keys are stored, and that a
rerun changes nothing it does not have to."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier.cli.certs import (
    PkiError,
    PkiLayout,
    init_pki,
    issue_client,
    read_pair,
)
from verifier.cli.main import main
from verifier.config import TlsConfig

SYSTEMS = ("local-case-system", "county-370322")


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that would leave a key world-readable if the code relied on it."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.fixture
def pki(tmp_path: Path) -> PkiLayout:
    return init_pki(
        tmp_path / "pki",
        systems=SYSTEMS,
        server_names=("hedui.internal",),
        server_ips=("10.1.2.3",),
        days=30,
    ).layout


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def eku(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*.*")}


def test_the_ca_is_a_ca_and_signs_itself(pki: PkiLayout) -> None:
    ca = load(pki.ca.cert)
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    ca.verify_directly_issued_by(ca)


def test_server_certificate_names_loopback_and_the_given_names(pki: PkiLayout) -> None:
    ca, server = load(pki.ca.cert), load(pki.server.cert)
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "hedui.internal"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("10.1.2.3"),
    }
    assert eku(server) == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.parametrize("system", SYSTEMS)
def test_one_client_certificate_per_system_with_its_name_as_cn(pki: PkiLayout, system: str) -> None:
    ca, client = load(pki.ca.cert), load(pki.client(system).cert)
    client.verify_directly_issued_by(ca)
    assert cn(client) == system
    assert eku(client) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not client.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_leaf_validity_is_the_requested_number_of_days(pki: PkiLayout) -> None:
    for path in (pki.server.cert, pki.client(SYSTEMS[0]).cert):
        cert = load(path)
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert dt.timedelta(days=30) <= lifetime <= dt.timedelta(days=30, minutes=10)


def test_keys_are_0600_and_match_their_certificates(tmp_path: Path, permissive_umask: None) -> None:
    layout = init_pki(tmp_path / "pki", systems=SYSTEMS).layout
    pairs = [layout.ca, layout.server, *(layout.client(s) for s in SYSTEMS)]
    for pair in pairs:
        assert stat.S_IMODE(pair.key.stat().st_mode) == 0o600, pair.key
        read_pair(pair)  # raises if the key does not belong to the certificate
    assert stat.S_IMODE((tmp_path / "pki").stat().st_mode) == 0o700
    assert not [p for p in (tmp_path / "pki").rglob("*") if p.name.endswith(".tmp")]


def test_a_rerun_reuses_everything(tmp_path: Path, pki: PkiLayout) -> None:
    before = snapshot(pki.directory)
    again = init_pki(
        pki.directory, systems=SYSTEMS, server_names=("hedui.internal",), server_ips=("10.1.2.3",)
    )
    assert again.created == ()
    assert snapshot(pki.directory) == before


def test_a_new_system_gets_a_certificate_from_the_same_ca(pki: PkiLayout) -> None:
    before = snapshot(pki.directory)
    result = init_pki(pki.directory, systems=(*SYSTEMS, "county-341824"))
    assert result.created == (pki.client("county-341824").cert,)
    after = snapshot(pki.directory)
    assert {k: after[k] for k in before} == before
    load(pki.client("county-341824").cert).verify_directly_issued_by(load(pki.ca.cert))


def test_a_new_server_name_reissues_only_the_server_certificate(pki: PkiLayout) -> None:
    ca_before = pki.ca.cert.read_bytes()
    result = init_pki(pki.directory, systems=SYSTEMS, server_names=("verifier.gov.example",))
    assert result.created == (pki.server.cert,)
    assert pki.ca.cert.read_bytes() == ca_before
    san = load(pki.server.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert "verifier.gov.example" in san.value.get_values_for_type(x509.DNSName)


def test_force_replaces_the_ca_and_reissues_every_leaf(pki: PkiLayout) -> None:
    old_ca = pki.ca.cert.read_bytes()
    result = init_pki(pki.directory, systems=SYSTEMS, force=True)
    assert pki.ca.cert.read_bytes() != old_ca
    assert len(result.created) == 2 + len(SYSTEMS)
    ca = load(pki.ca.cert)
    for path in (pki.server.cert, *(pki.client(s).cert for s in SYSTEMS)):
        load(path).verify_directly_issued_by(ca)


def test_an_expired_leaf_is_reissued_on_rerun(tmp_path: Path) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    layout = init_pki(tmp_path / "pki", systems=SYSTEMS[:1], now=long_ago).layout
    old = load(layout.client(SYSTEMS[0]).cert)
    result = init_pki(layout.directory, systems=SYSTEMS[:1])
    assert layout.client(SYSTEMS[0]).cert in result.created
    assert load(layout.client(SYSTEMS[0]).cert).not_valid_after_utc > old.not_valid_after_utc


def test_a_leaf_from_another_ca_is_replaced(pki: PkiLayout, tmp_path: Path) -> None:
    other = init_pki(tmp_path / "other", systems=SYSTEMS[:1]).layout
    target = pki.client(SYSTEMS[0])
    target.cert.write_bytes(other.client(SYSTEMS[0]).cert.read_bytes())
    target.key.write_bytes(other.client(SYSTEMS[0]).key.read_bytes())
    result = init_pki(pki.directory, systems=SYSTEMS)
    assert result.created == (target.cert,)
    load(target.cert).verify_directly_issued_by(load(pki.ca.cert))


def test_a_ca_certificate_without_its_key_is_refused(pki: PkiLayout) -> None:
    pki.ca.key.unlink()
    with pytest.raises(PkiError, match=r"ca\.pem exists without its pair"):
        init_pki(pki.directory, systems=SYSTEMS)


def test_an_unreadable_key_is_named_without_its_contents(pki: PkiLayout) -> None:
    pki.ca.key.write_text(
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(PkiError) as ei:
        init_pki(pki.directory, systems=SYSTEMS)
    assert str(pki.ca.key) in str(ei.value)
    assert "c2VjcmV0" not in str(ei.value)


@pytest.mark.parametrize("name", ["", "../etc", "a/b", "has space", "x" * 65, "-lead"])
def test_system_names_that_cannot_be_a_cn_or_a_file_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(PkiError, match="system name"):
        init_pki(tmp_path / "pki", systems=(name,))
    assert not (tmp_path / "pki").exists()


def test_zero_days_is_refused(tmp_path: Path) -> None:
    ca = read_pair(init_pki(tmp_path / "pki", systems=()).layout.ca)
    with pytest.raises(PkiError, match="at least one day"):
        issue_client(ca, "x", days=0)


def test_the_development_tls_config_points_at_these_files(tmp_path: Path) -> None:
    layout = PkiLayout(tmp_path)
    tls = TlsConfig.local_pki(tmp_path)
    assert (tls.cert, tls.key, tls.client_ca) == (
        layout.server.cert,
        layout.server.key,
        layout.ca.cert,
    )


def test_the_command_prints_paths_and_never_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "pki"
    assert main(["certs", "init", "--dir", str(out_dir), "--system", "sys-a", "--days", "7"]) == 0
    first = capsys.readouterr().out
    layout = PkiLayout(out_dir)
    assert str(layout.client("sys-a").cert) in first
    assert load(layout.client("sys-a").cert).not_valid_after_utc < dt.datetime.now(
        dt.UTC
    ) + dt.timedelta(days=8)
    assert main(["certs", "init", "--dir", str(out_dir), "--system", "sys-a"]) == 0
    second = capsys.readouterr().out
    assert "created" not in second
    for text in (first, second):
        assert "PRIVATE KEY" not in text
        for key in out_dir.rglob("*.key"):
            body = "".join(key.read_text().splitlines()[1:-1])
            assert body[:40] not in text.replace("\n", "")


def test_the_command_defaults_to_the_configured_principals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certs", "init", "--dir", str(tmp_path / "pki")]) == 0
    capsys.readouterr()
    assert cn(load(PkiLayout(tmp_path / "pki").client("local-case-system").cert)) == (
        "local-case-system"
    )


def test_the_command_refuses_a_bad_name_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certs", "init", "--dir", str(tmp_path / "pki"), "--system", "../x"]) == 2
    assert "system name" in capsys.readouterr().err
