"""Federation peers (异地协查): the agreement with each, as ``[federation.peers.NAME]``
configures it.

A peer is another hedui deployment (or a province's own implementation of the
federation protocol) that serves other regions. Nothing is trusted by default: a peer
in this file is only a candidate until ``hedui federation trust NAME`` records trust in
the database, and ``hedui federation revoke NAME`` ends it at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hedui_sdk import SourceKind
from verifier.domain.request_model import Purpose


@dataclass(frozen=True)
class PeerConfig:
    """One peer: who it is, how it is reached and what each side may ask of the other.

    ``name`` is also the common name its certificates carry: an inbound call is the
    peer's when its client certificate chains to ``ca`` and names ``name``."""

    name: str
    regions: tuple[str, ...]
    """Region codes (6 digits) the peer serves: members whose 户籍 is there are asked there."""
    endpoint: str
    """``HOST:PORT`` of its FederationService."""
    ca: Path
    """The CA that signs the peer's server and client certificates."""
    jwks: Path
    """The peer's report-signing keys as it publishes them (``hedui keys export``)."""
    key_ids: tuple[str, ...]
    """The pinned key ids: a fragment is accepted only when signed by one of these."""
    purposes: tuple[Purpose, ...]
    """What the peer may ask this deployment for (and this one asks it for)."""
    sources: tuple[SourceKind, ...]
    """Which of this deployment's sources the peer may have checked."""
    remote_sources: tuple[SourceKind, ...] = ()
    """Sources that exist only at the peer: asked there for every member."""
    asks_sources: tuple[SourceKind, ...] = ()
    """Which of the peer's sources this deployment may have it check for members whose
    户籍 is there (the peer's side of the agreement). Nothing by default: a source not
    named here (nor in ``remote_sources``) is never sent, and its pairs are DENIED here."""
    rate_per_minute: int = 60
    """The peer's 协查 requests answered per minute; more are refused."""
    deadline_working_days: int = 5
    """Working days a 协查 may take before the report is released without its answer."""
    audit_key: str = ""
    """The peer's audit verifier key (C2SP signed-note key), to check the receipts it
    gives of its access entries; empty: receipts are not checked."""

    def may_ask(self, kind: SourceKind) -> bool:
        """Whether this deployment may ask the peer about ``kind`` (named in
        ``asks_sources``, or a source only the peer has)."""
        return kind in self.asks_sources or kind in self.remote_sources


@dataclass(frozen=True)
class FederationConfig:
    """``[federation]``: the configured peers, by name, and the client certificate this
    deployment presents when it calls them (its common name is the name peers know it by)."""

    peers: Mapping[str, PeerConfig] = field(default_factory=dict)
    client_cert: Path | None = None
    client_key: Path | None = None
    retry_interval_seconds: float = 30.0
    """How often a process looks for 协查 to ask peers again (see the retrier)."""
    regions: tuple[str, ...] = ()
    """Region codes (6 digits) this deployment serves: a peer's 协查 must name one of them
    (its members' 户籍 is here); none configured, every 协查 is refused."""

    def peer_for_region(self, region: str) -> PeerConfig | None:
        """The peer serving ``region`` (a 6-digit code), if any."""
        return next((p for p in self.peers.values() if region in p.regions), None)
