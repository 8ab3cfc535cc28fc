"""Federation set-ups shared by the federation tests.

The two deployments of the integration tests: the requester (``hedui-gaoqing``, 370322)
asks the peer (``hedui-linzi``, 370305), each with its own PKI; the peer answers on
SQLite behind a real grpc.aio server over mutual TLS, pinning the requester's client CA
and one signing key. Also the 协查 about one member's tax the unit tests send, and the
check of a fragment the peer signed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import Adapter, IdType, SourceKind, Subject, Window
from tests.helpers import APPLICANT_ID, CHILD_ID, SPOUSE_ID, household_draft, make_app
from verifier.api.federation_servicer import FederationServicer
from verifier.api.server import RunningServer, start_server
from verifier.api.tls import server_credentials
from verifier.bootstrap import App, peer_published_keys
from verifier.cli.certs import PkiLayout, init_pki
from verifier.domain.federation_ask import AskAuthorization, FederationAsk
from verifier.domain.household import MemberDraft, Relation, RequestDraft
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.request_model import Purpose
from verifier.service.federation.peers import PeerTrustService
from verifier.signing.fragments import VerifiedFragment, verify_fragment
from verifier.signing.jwks import dumps_jwks, key_id
from verifier.storage.migrate import upgrade

PEER = "hedui-linzi"
REQUESTER = "hedui-gaoqing"
PEER_REGION = "370305"
REQUESTER_REGION = "370322"


def tax_ask(
    member: Subject,
    *,
    consent_from: date,
    window: Window,
    request_id: str = "req-1",
) -> FederationAsk:
    """REQUESTER's 协查 for 低保 about ``member``'s tax, in PEER_REGION, under a 授权书
    (SQ-2026-1, open-ended) the member signed, in force from ``consent_from``."""
    return FederationAsk(
        requester=REQUESTER, request_id=request_id, members=(member,),
        purposes=(Purpose.DIBAO,), sources=(SourceKind.TAX,),
        authorization=AskAuthorization(
            "SQ-2026-1", (Purpose.DIBAO,), (SourceKind.TAX,), consent_from, None, (0,),
            "e" * 64,
        ),
        region=PEER_REGION, window=window,
    )  # fmt: skip


def requester_agreement(kid: str, rate_per_minute: int = 60) -> PeerConfig:
    """PEER's agreement with REQUESTER (tax, 低保), pinning ``kid``, as a unit test
    holds it: its endpoint and files are named and never reached."""
    return PeerConfig(
        name=REQUESTER, regions=(REQUESTER_REGION,), endpoint="127.0.0.1:1", ca=Path("ca.pem"),
        jwks=Path("jwks.json"), key_ids=(kid,), purposes=(Purpose.DIBAO,),
        sources=(SourceKind.TAX,), rate_per_minute=rate_per_minute,
    )  # fmt: skip


def verify_peer_fragment(
    peer_app: App,
    fragment: bytes,
    request_id: str,
    asked: Collection[tuple[int, SourceKind]] = ((0, SourceKind.TAX),),
) -> VerifiedFragment:
    """``fragment`` as REQUESTER accepts it from PEER, pinning every signing key of
    ``peer_app`` (FragmentError if it does not verify)."""
    keys = {key_id(k): k for k in peer_app.keys.verifying_keys("signing")}
    return verify_fragment(
        fragment, keys, peer=PEER, requester=REQUESTER, request_id=request_id, asked=asked
    )


@dataclass(frozen=True)
class TwoPkis:
    """Each deployment's own PKI (CA, server certificate, client certificate)."""

    requester: PkiLayout
    peer: PkiLayout


def two_pkis(tmp_path: Path) -> TwoPkis:
    """A PKI for REQUESTER (pki-r) and one for PEER (pki-p) under ``tmp_path``."""
    return TwoPkis(
        requester=init_pki(tmp_path / "pki-r", systems=(REQUESTER,)).layout,
        peer=init_pki(tmp_path / "pki-p", systems=(PEER,)).layout,
    )


def answering_federation(
    pkis: TwoPkis, tmp_path: Path, purposes: tuple[Purpose, ...]
) -> FederationConfig:
    """PEER's [federation]: it answers REQUESTER for tax under ``purposes``, pinning the
    requester's CA and one signing key (published in r-jwks.json; its private half is
    never used: no test signs as the requester), and serves PEER_REGION."""
    requester_key = Ed25519PrivateKey.generate().public_key()
    jwks = tmp_path / "r-jwks.json"
    jwks.write_text(dumps_jwks([requester_key]))
    return FederationConfig(
        peers={REQUESTER: PeerConfig(
            name=REQUESTER, regions=(REQUESTER_REGION,), endpoint="localhost:1",
            ca=pkis.requester.ca.cert, jwks=jwks, key_ids=(key_id(requester_key),),
            purposes=purposes, sources=(SourceKind.TAX,),
        )},
        client_cert=pkis.peer.client(PEER).cert, client_key=pkis.peer.client(PEER).key,
        regions=(PEER_REGION,),
    )  # fmt: skip


async def answering_app(
    tmp_path: Path, federation: FederationConfig, adapters: Mapping[SourceKind, Adapter]
) -> App:
    """PEER's app on its own SQLite database (peer.db), REQUESTER trusted."""
    url = f"sqlite:///{tmp_path}/peer.db"
    upgrade(url)
    app = await make_app(url, tmp_path / "peer-keys", adapters, federation=federation)
    await PeerTrustService(app.store, federation, peer_published_keys).trust(REQUESTER, "ops")
    return app


async def serve_answering(
    app: App,
    pkis: TwoPkis,
    port: int = 0,
    servicer: type[FederationServicer] = FederationServicer,
) -> RunningServer:
    """Serve PEER's ``app`` on loopback ``port`` (0: a free one) over mutual TLS,
    accepting the requester's client certificates, FederationService by ``servicer``."""
    creds = server_credentials(pkis.peer.server.cert, pkis.peer.server.key, pkis.requester.ca.cert)
    assert app.inbound is not None
    return await start_server(
        app.service, f"127.0.0.1:{port}", principals=app.config.principals,
        jwks=lambda: dumps_jwks(app.keys.verifying_keys("signing")), probe=app.store.ping,
        credentials=creds, federation=servicer(app.inbound, app.config.federation.peers),
    )  # fmt: skip


def asking_federation(
    pkis: TwoPkis,
    tmp_path: Path,
    peer_app: App,
    port: int,
    *,
    purposes: tuple[Purpose, ...],
    remote_sources: tuple[SourceKind, ...] = (),
    asks_sources: tuple[SourceKind, ...] = (),
    deadline_working_days: int = 5,
    audit_key: str = "",
    retry_interval_seconds: float = 30.0,
) -> FederationConfig:
    """REQUESTER's [federation]: it asks PEER (PEER_REGION) at loopback ``port``, pinning
    the peer's CA and its current signing key (published in p-jwks.json), and answers the
    peer for no source of its own."""
    peer_keys = peer_app.keys.verifying_keys("signing")
    jwks = tmp_path / "p-jwks.json"
    jwks.write_text(dumps_jwks(peer_keys))
    return FederationConfig(
        peers={PEER: PeerConfig(
            name=PEER, regions=(PEER_REGION,), endpoint=f"localhost:{port}",
            ca=pkis.peer.ca.cert, jwks=jwks, key_ids=(key_id(peer_keys[0]),),
            purposes=purposes, sources=(), remote_sources=remote_sources,
            asks_sources=asks_sources, deadline_working_days=deadline_working_days,
            audit_key=audit_key,
        )},
        client_cert=pkis.requester.client(REQUESTER).cert,
        client_key=pkis.requester.client(REQUESTER).key,
        retry_interval_seconds=retry_interval_seconds,
    )  # fmt: skip


def spouse_at_peer(
    request_id: str = "req-1", spouse_region: str = PEER_REGION, *, child: bool = False
) -> RequestDraft:
    """The household of tests.helpers asking about tax: the applicant's 户籍 is here
    (370322), the spouse's at ``spouse_region`` (the peer's); with ``child``, the child's
    at the peer too."""
    members = [
        MemberDraft(IdType.RESIDENT_ID, APPLICANT_ID, "测试甲", Relation.APPLICANT),
        MemberDraft(IdType.RESIDENT_ID, SPOUSE_ID, "测试乙", Relation.SPOUSE,
                    hukou_region=spouse_region),
    ]  # fmt: skip
    if child:
        members.append(
            MemberDraft(IdType.RESIDENT_ID, CHILD_ID, "测试丙", Relation.CHILD,
                        hukou_region=PEER_REGION)
        )  # fmt: skip
    return household_draft(request_id, sources=(SourceKind.TAX,), members=tuple(members))
