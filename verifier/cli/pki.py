"""The local certificate authority's work: keys, certificates for the server and each
calling system, and their PEM files (written atomically, keys 0600). See :mod:`certs`
for the layout and the command."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_DAYS = 365
DEFAULT_CA_DAYS = 3650
DEFAULT_SERVER_NAMES = ("localhost",)
DEFAULT_SERVER_IPS = ("127.0.0.1", "::1")
# Backdated so that a peer whose clock runs a little behind still accepts a fresh cert.
_CLOCK_SKEW = dt.timedelta(minutes=5)
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
        check_system_name(system)
        base = self.directory / "clients"
        return PemPair(base / f"{system}.pem", base / f"{system}.key")


def check_system_name(system: str) -> None:
    if not _SYSTEM_NAME.fullmatch(system):
        raise PkiError(
            f"system name {system!r}: use 1-64 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _validity(now: dt.datetime | None, days: int) -> tuple[dt.datetime, dt.datetime]:
    if days < 1:
        raise PkiError(f"validity must be at least one day, not {days}")
    start = (now or utc_now()) - _CLOCK_SKEW
    return start, start + _CLOCK_SKEW + dt.timedelta(days=days)


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    days: int,
    now: dt.datetime | None,
) -> x509.CertificateBuilder:
    """What a CA and a leaf certificate share: names, key, serial, validity, basic
    constraints and key usage (a CA signs certificates, a leaf signs handshakes)."""
    start, end = _validity(now, days)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


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
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        _certificate(name, name, key, ca=True, days=days, now=now)
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
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        _certificate(subject, ca.cert.subject, key, ca=False, days=days, now=now)
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


def server_san(names: Iterable[str], ips: Iterable[str]) -> list[x509.GeneralName]:
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
    san = server_san(names, ips)
    cn = next(g.value for g in san if isinstance(g, x509.DNSName))
    return _leaf(ca, cn, usage=ExtendedKeyUsageOID.SERVER_AUTH, san=san, days=days, now=now)


def issue_client(
    ca: Issued, system: str, *, days: int = DEFAULT_DAYS, now: dt.datetime | None = None
) -> Issued:
    check_system_name(system)
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


__all__ = [
    "DEFAULT_CA_DAYS",
    "DEFAULT_DAYS",
    "DEFAULT_SERVER_IPS",
    "DEFAULT_SERVER_NAMES",
    "Issued",
    "PemPair",
    "PkiError",
    "PkiLayout",
    "check_system_name",
    "issue_client",
    "issue_server",
    "new_ca",
    "read_pair",
    "server_san",
    "utc_now",
    "write_pair",
]
