"""Two hedui deployments that work together on cross-region checks (异地协查), set up the
way two counties would: each its own CA (which signs its server certificate, its case
system's client certificate and its federation client certificate, whose common name is
the deployment's name), its own signing keys published as a JWKS, its own database, and
an agreement naming the other as a peer (``[federation.peers.NAME]``) with the other's
CA, JWKS and pinned key ids.

Each server accepts client certificates of its own CA (its case system) and of the
peer's CA (the peer's federation certificate): its ``[tls] client_ca`` file holds both,
as docs/federation-protocol.md says. Used by ``hedui demo federation`` and by the
two-server integration tests, which give each side their own sources.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

from hedui_sdk import SourceKind
from verifier.api.tls import client_credentials
from verifier.bootstrap import keystore
from verifier.cli.certs import init_pki
from verifier.cli.pki import PkiLayout, new_ca, write_pair
from verifier.config import Config, Principal, TlsConfig
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.request_model import Purpose
from verifier.domain.vocabulary import Role
from verifier.signing.jwks import dumps_jwks, key_id

__all__ = [
    "CASE_SYSTEM",
    "Side",
    "agreement",
    "free_port",
    "prepare_side",
    "side_config",
]

CASE_SYSTEM = "local-case-system"
"""Each deployment's own case system (a client certificate of its own CA)."""


def free_port() -> int:
    """A loopback port free now. Each side's endpoint must be in the other's agreement
    before either server starts, so the ports are chosen first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Side:
    """One deployment: its name (the common name of its federation certificate), the
    county it serves, where its files live and the port it serves on."""

    name: str
    region: str
    directory: Path
    port: int
    key_ids: tuple[str, ...] = ()
    """Its report-signing key ids, as the peer pins them (set by :func:`prepare_side`)."""

    @property
    def pki(self) -> PkiLayout:
        return PkiLayout(self.directory / "pki")

    @property
    def client_cas(self) -> Path:
        """The CAs whose client certificates this side's server accepts: its own and the
        peer's."""
        return self.directory / "pki" / "client-cas.pem"

    @property
    def jwks(self) -> Path:
        """Its report-signing keys as it publishes them (``hedui keys export``)."""
        return self.directory / "keys.jwks.json"

    @property
    def keys_dir(self) -> Path:
        return self.directory / "keys"

    @property
    def listen(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        # The server certificate names localhost (not the address): peers dial the name.
        return f"localhost:{self.port}"

    def case_system_credentials(self) -> grpc.ChannelCredentials:
        """What this side's case system presents to its own server."""
        me = self.pki.client(CASE_SYSTEM)
        return client_credentials(self.pki.ca.cert, me.cert, me.key)


def prepare_side(name: str, region: str, directory: Path, port: int | None = None) -> Side:
    """The side's PKI (a CA of its own, named after it, and the server, case system and
    federation certificates it signs) and its signing keys, published as a JWKS."""
    directory.mkdir(parents=True, exist_ok=True)
    side = Side(name, region, directory, free_port() if port is None else port)
    layout = side.pki
    if not layout.ca.cert.exists():
        layout.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_pair(layout.ca, new_ca(f"{name} CA"))
    init_pki(layout.directory, systems=(CASE_SYSTEM, name))
    keys = keystore(Config(keys_dir=side.keys_dir))
    keys.ensure()
    published = keys.verifying_keys("signing")
    side.jwks.write_text(dumps_jwks(published))
    return replace(side, key_ids=tuple(key_id(k) for k in published))


def agreement(
    peer: Side,
    *,
    sources: Sequence[SourceKind] = tuple(SourceKind),
    purposes: Sequence[Purpose] = tuple(Purpose),
    remote_sources: Sequence[SourceKind] = (),
    asks_sources: Sequence[SourceKind] | None = None,
) -> PeerConfig:
    """``[federation.peers.<peer>]``: where it is, the CA of its certificates, its
    published keys pinned by id, and what each side may ask of the other (the demo's
    agreements are mutual: this side asks the peer about ``sources`` too, unless
    ``asks_sources`` says otherwise)."""
    return PeerConfig(
        name=peer.name,
        regions=(peer.region,),
        endpoint=peer.endpoint,
        ca=peer.pki.ca.cert,
        jwks=peer.jwks,
        key_ids=peer.key_ids,
        purposes=tuple(purposes),
        sources=tuple(sources),
        remote_sources=tuple(remote_sources),
        asks_sources=tuple(sources if asks_sources is None else asks_sources),
    )


def side_config(
    base: Config, side: Side, peer: Side, database_url: str, agreed: PeerConfig | None = None
) -> Config:
    """``base`` as ``side`` runs it: its database and keys, mTLS accepting its case
    system's and the peer's client certificates, its case system serving its county,
    and the peer in ``[federation]`` with this side's federation certificate."""
    side.client_cas.write_bytes(side.pki.ca.cert.read_bytes() + peer.pki.ca.cert.read_bytes())
    tls = replace(TlsConfig.local_pki(side.pki.directory), client_ca=side.client_cas)
    me = side.pki.client(side.name)
    return replace(
        base,
        database_url=database_url,
        keys_dir=side.keys_dir,
        listen=side.listen,
        tls=tls,
        principals={CASE_SYSTEM: Principal(CASE_SYSTEM, tuple(Role), (side.region,))},
        federation=FederationConfig(
            peers={peer.name: agreed if agreed is not None else agreement(peer)},
            client_cert=me.cert,
            client_key=me.key,
            regions=(side.region,),
        ),
    )
