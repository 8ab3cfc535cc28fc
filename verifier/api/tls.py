"""mTLS credentials for the gRPC server and client, read from PEM files, and the rule that
decides whether a server may start at all.

Files are parsed and cross-checked here (certificate parses, key parses, key matches
certificate) because gRPC reports a bad file only as a failed bind or a failed handshake,
without naming the file. Errors name files, never their contents.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from verifier.config import ConfigError, TlsConfig


class TlsConfigError(ConfigError):
    """TLS is misconfigured or not allowed as configured; the message says what to fix."""


def _read(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TlsConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise TlsConfigError(f"{what} {path} cannot be read: {exc.strerror}") from None
    if not data.strip():
        raise TlsConfigError(f"{what} {path} is empty")
    return data


def _certificates(path: Path, what: str) -> tuple[bytes, list[x509.Certificate]]:
    data = _read(path, what)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TlsConfigError(f"{what} {path} holds no PEM certificate") from None
    return data, certs


def _pair(cert: Path, key: Path, what: str) -> tuple[bytes, bytes]:
    cert_pem, chain = _certificates(cert, f"{what} certificate")
    key_pem = _read(key, f"{what} key")
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        # The parser's message is not shown: it may quote key material.
        raise TlsConfigError(
            f"{what} key {key} is not an unencrypted PEM private key (gRPC cannot use"
            " an encrypted one)"
        ) from None
    if private.public_key() != chain[0].public_key():
        raise TlsConfigError(f"{what} key {key} does not belong to certificate {cert}")
    return cert_pem, key_pem


def server_credentials(
    cert: Path, key: Path, client_ca: Path | None, *, require_client_auth: bool = True
) -> grpc.ServerCredentials:
    """The server's certificate and key; ``client_ca`` is the CA whose client certificates
    are accepted (and the CN of which becomes the calling system)."""
    cert_pem, key_pem = _pair(cert, key, "server")
    if require_client_auth and client_ca is None:
        raise TlsConfigError("client authentication is required but no client CA is configured")
    ca_pem = _certificates(client_ca, "client CA")[0] if client_ca is not None else None
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)],
        root_certificates=ca_pem,
        require_client_auth=require_client_auth,
    )


def client_credentials(ca: Path, cert: Path, key: Path) -> grpc.ChannelCredentials:
    """What a calling system presents: its certificate and key, and the CA that signed the
    server's certificate."""
    ca_pem = _certificates(ca, "server CA")[0]
    cert_pem, key_pem = _pair(cert, key, "client")
    return grpc.ssl_channel_credentials(
        root_certificates=ca_pem, private_key=key_pem, certificate_chain=cert_pem
    )


def is_loopback(listen: str) -> bool:
    """Whether a gRPC listen address binds only the loopback interface. An empty host or a
    wildcard binds every interface; a unix socket is not counted, so that the rule stays
    one sentence: plaintext only on 127.0.0.0/8, ::1 or localhost."""
    if listen.startswith(("unix:", "unix-abstract:", "vsock:")):
        return False
    host = listen.removeprefix("dns:///").removeprefix("ipv4:").removeprefix("ipv6:")
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_server_tls(tls: TlsConfig, listen: str) -> None:
    """Refuse a configuration under which callers would not be identified by certificate
    where they must be. Raises ``TlsConfigError``; returns when the server may start."""
    if tls.mode not in ("production", "development"):
        raise TlsConfigError(f"tls.mode {tls.mode!r}: must be production or development")
    if tls.insecure_plaintext:
        if tls.mode == "production":
            raise TlsConfigError(
                "tls.insecure_plaintext is refused in production mode: callers must present"
                " client certificates (set tls.cert, tls.key and tls.client_ca)"
            )
        if not is_loopback(listen):
            raise TlsConfigError(
                f"tls.insecure_plaintext is only honoured on loopback, not on {listen!r}"
            )
        return
    missing = [
        name for name, value in (("tls.cert", tls.cert), ("tls.key", tls.key)) if value is None
    ]
    if tls.require_client_auth and tls.client_ca is None:
        missing.append("tls.client_ca")
    if missing:
        hint = (
            "run `hedui certs init` for a local PKI, or set tls.insecure_plaintext on loopback"
            if tls.mode == "development"
            else "production requires mTLS"
        )
        raise TlsConfigError(f"{', '.join(missing)} not set: {hint}")
    if tls.mode == "production" and not tls.require_client_auth:
        raise TlsConfigError(
            "tls.require_client_auth = false is refused in production mode: the calling"
            " system is identified by its client certificate"
        )


def server_credentials_for(tls: TlsConfig, listen: str) -> grpc.ServerCredentials | None:
    """Credentials for ``start_server``; ``None`` (plaintext) only where
    ``check_server_tls`` allows it."""
    check_server_tls(tls, listen)
    if tls.insecure_plaintext:
        return None
    if tls.cert is None or tls.key is None:  # unreachable after the check; narrows types
        raise TlsConfigError("tls.cert and tls.key must be set")
    return server_credentials(
        tls.cert, tls.key, tls.client_ca, require_client_auth=tls.require_client_auth
    )
