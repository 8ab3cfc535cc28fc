"""FederationService under the API fuzz: a peer deployment served over mutual TLS, called
by four identities (a trusted requester, a configured peer never trusted, a certificate
of a trusted CA naming no configured peer, and a certificate naming the requester from a
CA nobody configured), with valid, near-valid, wholly generated and wire requests.

The peer's identity is its client certificate, never metadata, so each identity is a
channel of its own (:class:`FederationFuzz` picks it by ``Case.who``); everything else —
the properties judged after each call, the requests made from descriptors — is the
generic fuzz's (tests/api_fuzz/).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.type import date_pb2
from hedui.v1 import common_pb2, federation_pb2, federation_pb2_grpc, verification_pb2
from hypothesis import strategies as st

from hedui_sdk import Adapter, SourceKind, resident_id
from tests.api_fuzz.api import CALL_TIMEOUT
from tests.api_fuzz.fuzzer import Fuzz
from tests.api_fuzz.requests import Case, cases
from tests.api_fuzz.rules import Outcome
from tests.fakes import FakeAdapter
from tests.helpers import make_app
from verifier.api.server import FEDERATION_SERVICE, RunningServer
from verifier.api.tls import client_credentials, server_credentials
from verifier.bootstrap import App, peer_published_keys, serve_app
from verifier.cli.certs import PkiLayout, init_pki
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.request_model import Purpose
from verifier.domain.time_limits import CHINA
from verifier.service.federation.peers import PeerTrustService
from verifier.signing.jwks import dumps_jwks, key_id

PEER = "hedui-linzi"
"""The deployment under test: it answers 协查."""
REQUESTER = "hedui-gaoqing"
"""A configured peer, trusted: its asks get past the trust check."""
UNTRUSTED = "hedui-zibo"
"""A configured peer whose trust was never recorded: PEER_NOT_TRUSTED, audited."""
UNCONFIGURED = "hedui-nowhere"
"""A certificate the requester's CA issued to a name no agreement has: PEER_NOT_CONFIGURED."""
REGION = "370322"
ASKED_IDS = (
    resident_id.make(REGION, date(1955, 3, 9), 960),
    resident_id.make(REGION, date(1957, 8, 21), 961),
    resident_id.make(REGION, date(1985, 1, 30), 962),
)
# Who calls: mostly the trusted requester, whose asks reach the checks behind trust.
IDENTITIES = ("peer",) * 6 + ("untrusted", "unconfigured", "stranger")
METHODS: list[MethodDescriptor] = list(
    federation_pb2.DESCRIPTOR.services_by_name["FederationService"].methods
)
assert METHODS[0].containing_service.full_name == FEDERATION_SERVICE


@dataclass
class FederationWorld:
    """What exists before the first call: the PKIs, a trusted requester, one kept answer."""

    server_ca: Path
    identities: dict[str, tuple[Path, Path]]  # who -> (client cert, client key)
    answered: tuple[str, ...]  # request ids the requester got an answer under


def _agreement(name: str, pki: PkiLayout, tmp: Path) -> PeerConfig:
    key = Ed25519PrivateKey.generate().public_key()
    jwks = tmp / f"{name}-jwks.json"
    jwks.write_text(dumps_jwks([key]))
    # A rate no fuzz run reaches: the rate limit is tested on its own; here every ask
    # must get to the checks behind it.
    return PeerConfig(
        name=name, regions=(REGION,), endpoint="localhost:1", ca=pki.ca.cert, jwks=jwks,
        key_ids=(key_id(key),), purposes=(Purpose.DIBAO, Purpose.LINSHI),
        sources=(SourceKind.TAX, SourceKind.REAL_ESTATE), rate_per_minute=1_000_000,
    )  # fmt: skip


async def start_peer(
    url: str, tmp: Path, adapters: Mapping[SourceKind, Adapter] | None = None
) -> tuple[App, RunningServer, FederationWorld]:
    """The peer deployment on ``url``, served with mTLS on a free port, and its world;
    ``adapters`` replace its fake sources (they must answer the world's first ask)."""
    requester_pki = init_pki(tmp / "pki-r", systems=(REQUESTER, UNCONFIGURED)).layout
    untrusted_pki = init_pki(tmp / "pki-u", systems=(UNTRUSTED,)).layout
    stranger_pki = init_pki(tmp / "pki-s", systems=(REQUESTER,)).layout
    peer_pki = init_pki(tmp / "pki-p", systems=(PEER,)).layout
    federation = FederationConfig(
        peers={
            REQUESTER: _agreement(REQUESTER, requester_pki, tmp),
            UNTRUSTED: _agreement(UNTRUSTED, untrusted_pki, tmp),
        },
        client_cert=peer_pki.client(PEER).cert,
        client_key=peer_pki.client(PEER).key,
        regions=(REGION,),
    )
    adapters = adapters or {
        SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={ASKED_IDS[0]: 321_000}),
        SourceKind.REAL_ESTATE: FakeAdapter(
            SourceKind.REAL_ESTATE, asset_fen={ASKED_IDS[1]: 9_000_000}
        ),
    }
    app = await make_app(url, tmp / "keys", adapters, federation=federation)
    bundle = tmp / "client-cas.pem"
    bundle.write_bytes(
        b"".join(p.ca.cert.read_bytes() for p in (requester_pki, untrusted_pki, stranger_pki))
    )
    creds = server_credentials(peer_pki.server.cert, peer_pki.server.key, bundle)
    server = await serve_app(app, "127.0.0.1:0", credentials=creds, health_interval=3600)
    await PeerTrustService(app.store, federation, peer_published_keys).trust(REQUESTER, "ops-1")
    world = FederationWorld(
        server_ca=peer_pki.ca.cert,
        identities={
            "peer": _pair(requester_pki, REQUESTER),
            "unconfigured": _pair(requester_pki, UNCONFIGURED),
            "untrusted": _pair(untrusted_pki, UNTRUSTED),
            "stranger": _pair(stranger_pki, REQUESTER),
        },
        answered=("fz-answered-1",),
    )
    async with channel_for(world, "peer", server.port) as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        for request_id in world.answered:
            ask = assist_request(request_id, list(range(len(ASKED_IDS))))
            await stub.Assist(ask, timeout=CALL_TIMEOUT)
    return app, server, world


def _pair(pki: PkiLayout, name: str) -> tuple[Path, Path]:
    return pki.client(name).cert, pki.client(name).key


def channel_for(world: FederationWorld, who: str, port: int) -> grpc.aio.Channel:
    cert, key = world.identities[who]
    creds = client_credentials(world.server_ca, cert, key)
    return grpc.aio.secure_channel(f"localhost:{port}", creds)


# --------------------------------------------------------------------------- requests
def _day(d: date) -> date_pb2.Date:
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def assist_request(
    request_id: str,
    members: list[int],
    purposes: tuple[Any, ...] = (common_pb2.PURPOSE_DIBAO,),
    sources: tuple[Any, ...] = (common_pb2.SOURCE_KIND_TAX,),
    window: tuple[date, date] | None = None,
) -> federation_pb2.AssistRequest:
    """A 协查 the agreement with the requester and its 授权书 cover."""
    today = date.today()
    start, end = window or (today - timedelta(days=365), today - timedelta(days=1))
    number = f"SQ-FZ-{len(members)}"
    return federation_pb2.AssistRequest(
        request_id=request_id,
        members=[
            federation_pb2.AssistMember(
                id_type=common_pb2.ID_TYPE_RESIDENT_ID, id_number=ASKED_IDS[i], name=f"测试{i}"
            )
            for i in members
        ],
        purposes=list(purposes),
        sources=list(sources),
        authorization=federation_pb2.AssistAuthorization(
            number=number, purposes=list(purposes), sources=list(sources),
            valid_from=_day(today - timedelta(days=30)), signed_for=list(range(len(members))),
            evidence_sha256=hashlib.sha256(number.encode()).hexdigest(),
        ),
        region=REGION,
        window=verification_pb2.Window(start_date=_day(start), end_date=_day(end)),
    )  # fmt: skip


@st.composite
def _assist(draw: st.DrawFn) -> Message:
    members = draw(st.lists(st.integers(0, len(ASKED_IDS) - 1), min_size=1, unique=True))
    purposes = draw(
        st.lists(
            st.sampled_from((common_pb2.PURPOSE_DIBAO, common_pb2.PURPOSE_LINSHI)),
            min_size=1,
            unique=True,
        )
    )
    sources = draw(
        st.lists(
            st.sampled_from((common_pb2.SOURCE_KIND_TAX, common_pb2.SOURCE_KIND_REAL_ESTATE)),
            min_size=1,
            unique=True,
        )
    )
    end = draw(st.dates(date.today() - timedelta(days=700), date.today()))
    start = draw(st.dates(end - timedelta(days=1000), end))
    # Made fresh before the call (Fuzz.prepare): a repeated one only reaches the replay.
    request_id = draw(st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True))
    req = assist_request(request_id, members, tuple(purposes), tuple(sources), (start, end))
    uncover(req, draw(st.sampled_from(_GAPS)))
    return req


# Well-formed asks the agreement or the 授权书 does not cover: each must be refused with
# its reason (PERMISSION_DENIED, one deny entry) and ask no source. "" leaves it covered.
_GAPS = ("",) * 6 + (
    "purpose not agreed",
    "source not agreed",
    "purpose not authorized",
    "source not authorized",
    "member not signatory",
    "not yet valid",
    "no longer valid",
)


def uncover(req: federation_pb2.AssistRequest, gap: str) -> None:
    auth = req.authorization
    # The peer judges the 授权书's validity on the date in China.
    today = datetime.now(CHINA).date()
    if gap == "purpose not agreed":
        req.purposes.append(common_pb2.PURPOSE_TEKUN)
        auth.purposes.append(common_pb2.PURPOSE_TEKUN)
    elif gap == "source not agreed":
        req.sources.append(common_pb2.SOURCE_KIND_BANK)
        auth.sources.append(common_pb2.SOURCE_KIND_BANK)
    elif gap == "purpose not authorized":
        purposes = [p for p in auth.purposes if p != req.purposes[0]]
        del auth.purposes[:]
        auth.purposes.extend(purposes or [common_pb2.PURPOSE_YINBING_ZHIPIN])
    elif gap == "source not authorized":
        sources = [s for s in auth.sources if s != req.sources[0]]
        del auth.sources[:]
        auth.sources.extend(sources or [common_pb2.SOURCE_KIND_BANK])
    elif gap == "member not signatory":
        del auth.signed_for[-1]
    elif gap == "not yet valid":
        auth.valid_from.CopyFrom(_day(today + timedelta(days=1)))
    elif gap == "no longer valid":
        auth.valid_until.CopyFrom(_day(today - timedelta(days=1)))


def valid_requests(world: FederationWorld) -> dict[str, st.SearchStrategy[Message]]:
    """A valid request per FederationService RPC: the seeds of near-valid ones."""
    return {
        "hedui.v1.FederationService.Assist": _assist(),
        "hedui.v1.FederationService.GetReceipt": st.builds(
            federation_pb2.FederationServiceGetReceiptRequest,
            request_id=st.sampled_from(world.answered),
        ),
    }


@st.composite
def federation_cases(
    draw: st.DrawFn, method: MethodDescriptor, valid: st.SearchStrategy[Message] | None
) -> Case:
    """The generic cases, sent as one of the federation identities."""
    case = draw(cases(method, valid))
    case.who = draw(st.sampled_from(IDENTITIES))
    return case


# --------------------------------------------------------------------------- the fuzz
class FederationFuzz(Fuzz):
    """The generic fuzz, with a channel per certificate instead of metadata per caller."""

    def __init__(
        self,
        runner: asyncio.Runner,
        app: App,
        server: RunningServer,
        world: FederationWorld,
        tables: list[str],
        backend: str,
    ) -> None:
        self.runner = runner
        self.app = app
        self.server = server
        self.tables = tables
        self.backend = backend
        self.served = frozenset({FEDERATION_SERVICE})
        self.federation = world
        self.channels = {who: channel_for(world, who, server.port) for who in world.identities}
        self.channel = self.channels["peer"]
        self.valid = valid_requests(world)
        self.stats: Counter[str] = Counter()
        self.found: dict[str, str] = {}
        self.nonce = 0
        self.accepted_items = 0
        self.answers_given = 0  # first answers (not replays) the server returned

    def metadata(self, case: Case) -> tuple[tuple[str, str], ...]:
        return ()  # a peer is its client certificate; no x-hedui-* metadata is read

    async def invoke(self, method: MethodDescriptor, case: Case) -> Outcome:
        self.channel = self.channels[case.who]
        outcome = await super().invoke(method, case)
        for response in outcome.responses:
            if isinstance(response, federation_pb2.AssistResponse) and not response.replayed:
                self.answers_given += 1
        return outcome

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
