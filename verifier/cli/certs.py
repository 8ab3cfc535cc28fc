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
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from verifier.cli.commands import Subparsers, group, offline_command
from verifier.cli.pki import (
    DEFAULT_CA_DAYS,
    DEFAULT_DAYS,
    Issued,
    PemPair,
    PkiError,
    PkiLayout,
    check_system_name,
    issue_client,
    issue_server,
    new_ca,
    read_pair,
    server_san,
    utc_now,
    write_pair,
)
from verifier.config import ConfigError, load_config

DEFAULT_DIR = Path("var/pki")
DEFAULT_SYSTEM = "local-case-system"
# A leaf this close to expiry is reissued rather than reused: it would fail mid-session.
_RENEW_BEFORE = dt.timedelta(days=1)


@dataclass(frozen=True)
class InitResult:
    layout: PkiLayout
    created: tuple[Path, ...]
    reused: tuple[Path, ...]


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
        check_system_name(s)
    when = now or utc_now()
    layout = PkiLayout(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    created: list[Path] = []
    reused: list[Path] = []
    ca, new = _load_or_create_ca(layout, days=ca_days, force=force, now=when)
    (created if new else reused).append(layout.ca.cert)
    # A new CA invalidates every leaf; _usable_leaf sees that through the signature check.
    san = server_san(server_names, server_ips)
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


__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_SYSTEM",
    "InitResult",
    "Issued",
    "PemPair",
    "PkiError",
    "PkiLayout",
    "fingerprint",
    "init_pki",
    "issue_client",
    "issue_server",
    "new_ca",
    "read_pair",
    "register",
    "write_pair",
]
