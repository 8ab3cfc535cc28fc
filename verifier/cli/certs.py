"""`hedui certs init`: a local certificate authority and mTLS certificates for development
and the demo.

Layout under the directory (default ``var/pki``)::

    ca.pem  ca.key                 the local CA (reused on later runs unless --force)
    server.pem  server.key         the server (SAN: localhost, 127.0.0.1, ::1 + given names)
    clients/<system>.pem  .key     one per calling system, subject CN = the system name

Keys are EC P-256 (what every gRPC TLS stack accepts), PKCS#8 PEM, unencrypted because
gRPC cannot read encrypted keys, written 0600. A production deployment uses its own PKI;
this one exists so that development runs the same mTLS path as production.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier.cli.commands import Subparsers, group, offline_command
from verifier.config import ConfigError, load_config

DEFAULT_DIR = Path("var/pki")
DEFAULT_DAYS = 365
DEFAULT_CA_DAYS = 3650
DEFAULT_SERVER_NAMES = ("localhost",)
DEFAULT_SERVER_IPS = ("127.0.0.1", "::1")
DEFAULT_SYSTEM = "local-case-system"
# Backdated so that a peer whose clock runs a little behind still accepts a fresh cert.
_CLOCK_SKEW = dt.timedelta(minutes=5)
# A leaf this close to expiry is reissued rather than reused: it would fail mid-session.
_RENEW_BEFORE = dt.timedelta(days=1)
# The system name becomes a file name and the certificate CN, which identity.py matches
# against configured principals: no path separators, no spaces, bounded length.
_SYSTEM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}", re.ASCII)


class PkiError(ValueError):
    """The PKI directory cannot be used as asked; the message names the file."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, in memory."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True)
class PemPair:
    """Where a certificate and its key live on disk."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class PkiLayout:
    directory: Path

    @property
    def ca(self) -> PemPair:
        return PemPair(self.directory / "ca.pem", self.directory / "ca.key")

    @property
    def server(self) -> PemPair:
        return PemPair(self.directory / "server.pem", self.directory / "server.key")

    def client(self, system: str) -> PemPair:
        _check_system_name(system)
        base = self.directory / "clients"
        return PemPair(base / f"{system}.pem", base / f"{system}.key")


@dataclass(frozen=True)
class InitResult:
    layout: PkiLayout
    created: tuple[Path, ...]
    reused: tuple[Path, ...]


def _check_system_name(system: str) -> None:
    if not _SYSTEM_NAME.fullmatch(system):
        raise PkiError(
            f"system name {system!r}: use 1-64 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _validity(now: dt.datetime | None, days: int) -> tuple[dt.datetime, dt.datetime]:
    if days < 1:
        raise PkiError(f"validity must be at least one day, not {days}")
    start = (now or _now()) - _CLOCK_SKEW
    return start, start + _CLOCK_SKEW + dt.timedelta(days=days)


def new_ca(
    common_name: str = "hedui local development CA",
    *,
    days: int = DEFAULT_CA_DAYS,
    now: dt.datetime | None = None,
) -> Issued:
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hedui (development)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    start, end = _validity(now, days)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def _leaf(
    ca: Issued,
    common_name: str,
    *,
    usage: x509.ObjectIdentifier,
    san: Sequence[x509.GeneralName],
    days: int,
    now: dt.datetime | None,
) -> Issued:
    key = _new_key()
    start, end = _validity(now, days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def _server_san(names: Iterable[str], ips: Iterable[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in dict.fromkeys((*DEFAULT_SERVER_NAMES, *names)):
        out.append(x509.DNSName(n))
    for raw in dict.fromkeys((*DEFAULT_SERVER_IPS, *ips)):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(raw)))
        except ValueError:
            raise PkiError(f"--server-ip {raw!r} is not an IP address") from None
    return out


def issue_server(
    ca: Issued,
    *,
    names: Iterable[str] = (),
    ips: Iterable[str] = (),
    days: int = DEFAULT_DAYS,
    now: dt.datetime | None = None,
) -> Issued:
    san = _server_san(names, ips)
    cn = next(g.value for g in san if isinstance(g, x509.DNSName))
    return _leaf(ca, cn, usage=ExtendedKeyUsageOID.SERVER_AUTH, san=san, days=days, now=now)


def issue_client(
    ca: Issued, system: str, *, days: int = DEFAULT_DAYS, now: dt.datetime | None = None
) -> Issued:
    _check_system_name(system)
    return _leaf(ca, system, usage=ExtendedKeyUsageOID.CLIENT_AUTH, san=(), days=days, now=now)


# ---- files -------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write next to the target and rename, so a crash never leaves half a key; the mode is
    set on the open file descriptor before any byte is written."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_pair(pair: PemPair, issued: Issued) -> None:
    # Key first: a certificate on disk without its key would look reusable to a rerun.
    _write_atomic(pair.key, issued.key_pem(), 0o600)
    _write_atomic(pair.cert, issued.cert_pem(), 0o644)


def read_pair(pair: PemPair) -> Issued:
    try:
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    except OSError as exc:
        raise PkiError(f"cannot read certificate {pair.cert}: {exc.strerror}") from None
    except ValueError:
        raise PkiError(f"{pair.cert} is not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    except OSError as exc:
        raise PkiError(f"cannot read key {pair.key}: {exc.strerror}") from None
    except (ValueError, TypeError):
        # Never echo the parser's message: it may quote key material.
        raise PkiError(f"{pair.key} is not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{pair.key} is not an EC private key")
    if key.public_key() != cert.public_key():
        raise PkiError(f"{pair.key} does not belong to {pair.cert}")
    return Issued(cert, key)


def _usable_leaf(
    pair: PemPair,
    ca: Issued,
    now: dt.datetime,
    *,
    common_name: str | None = None,
    san: Sequence[x509.GeneralName] | None = None,
) -> bool:
    """Reuse an existing leaf only if it still does the job the caller is asking for."""
    if not (pair.cert.exists() and pair.key.exists()):
        return False
    try:
        leaf = read_pair(pair)
        leaf.cert.verify_directly_issued_by(ca.cert)
    except (PkiError, ValueError, TypeError, InvalidSignature):
        return False
    if leaf.cert.not_valid_after_utc - _RENEW_BEFORE <= now:
        return False
    if common_name is not None and _common_name(leaf.cert) != common_name:
        return False
    if san is not None:
        try:
            have = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return False
        if not set(san) <= set(have.value):
            return False
    return True


def _common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _load_or_create_ca(
    layout: PkiLayout, *, days: int, force: bool, now: dt.datetime
) -> tuple[Issued, bool]:
    pair = layout.ca
    present = [p for p in (pair.cert, pair.key) if p.exists()]
    if present and not force:
        if len(present) == 1:
            raise PkiError(
                f"{present[0]} exists without its pair; rerun with --force to create a new CA"
            )
        ca = read_pair(pair)
        if ca.cert.not_valid_after_utc <= now:
            raise PkiError(
                f"the CA in {pair.cert} expired on {ca.cert.not_valid_after_utc:%Y-%m-%d};"
                " rerun with --force to create a new one (every certificate is reissued)"
            )
        return ca, False
    ca = new_ca(days=days, now=now)
    write_pair(pair, ca)
    return ca, True


def init_pki(
    directory: Path = DEFAULT_DIR,
    *,
    systems: Sequence[str] = (DEFAULT_SYSTEM,),
    server_names: Sequence[str] = (),
    server_ips: Sequence[str] = (),
    days: int = DEFAULT_DAYS,
    ca_days: int = DEFAULT_CA_DAYS,
    force: bool = False,
    now: dt.datetime | None = None,
) -> InitResult:
    """Create what is missing, reuse what is still good; ``force`` replaces everything."""
    for s in systems:
        _check_system_name(s)
    when = now or _now()
    layout = PkiLayout(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    created: list[Path] = []
    reused: list[Path] = []
    ca, new = _load_or_create_ca(layout, days=ca_days, force=force, now=when)
    (created if new else reused).append(layout.ca.cert)
    # A new CA invalidates every leaf; _usable_leaf sees that through the signature check.
    san = _server_san(server_names, server_ips)
    if not force and _usable_leaf(layout.server, ca, when, san=san):
        reused.append(layout.server.cert)
    else:
        write_pair(
            layout.server, issue_server(ca, names=server_names, ips=server_ips, days=days, now=now)
        )
        created.append(layout.server.cert)
    for system in dict.fromkeys(systems):
        pair = layout.client(system)
        if not force and _usable_leaf(pair, ca, when, common_name=system):
            reused.append(pair.cert)
        else:
            write_pair(pair, issue_client(ca, system, days=days, now=now))
            created.append(pair.cert)
    return InitResult(layout, tuple(created), tuple(reused))


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


# ---- command line --------------------------------------------------------------------------


def add_init_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="output directory")
    p.add_argument(
        "--system",
        action="append",
        dest="systems",
        metavar="NAME",
        help="a calling system (client certificate CN); repeatable;"
        " default: every principal of --config (the embedded one: local-case-system)",
    )
    p.add_argument("--server-name", action="append", default=[], metavar="DNS")
    p.add_argument("--server-ip", action="append", default=[], metavar="IP")
    p.add_argument("--days", type=int, default=DEFAULT_DAYS, help="leaf certificate validity")
    p.add_argument("--ca-days", type=int, default=DEFAULT_CA_DAYS, help="CA validity")
    p.add_argument("--force", action="store_true", help="replace the CA and every certificate")


def _systems(args: argparse.Namespace) -> list[str]:
    """``--system`` names, else the principals of ``--config`` (read only then: the PKI
    needs no server configuration, so a broken one stops this only when it is asked)."""
    if args.systems:
        return list(args.systems)
    if args.config is None:
        return [DEFAULT_SYSTEM]
    return sorted(load_config(args.config).principals) or [DEFAULT_SYSTEM]


def init_command(args: argparse.Namespace) -> int:
    try:
        systems = _systems(args)
    except ConfigError as exc:
        print(f"hedui certs init: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        result = init_pki(
            args.dir,
            systems=systems,
            server_names=args.server_name,
            server_ips=args.server_ip,
            days=args.days,
            ca_days=args.ca_days,
            force=args.force,
        )
    except PkiError as exc:
        print(f"hedui certs init: {exc}", file=sys.stderr)
        return 2
    # Plain print: paths must stay on one line for scripts, and never pass through markup.
    for path in result.created:
        print(f"created {path}")
    for path in result.reused:
        print(f"kept    {path}")
    print(f"CA SHA-256 fingerprint {fingerprint(read_pair(result.layout.ca).cert)}")
    return 0


def register(sub: Subparsers) -> None:
    """Add `certs init` (offline) to the `hedui` parser."""
    pki = group(sub, "certs", "local PKI for mTLS")
    add_init_arguments(
        offline_command(pki, "init", init_command, "local CA, server and client certificates")
    )
